import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClipStore } from "../src/clips/clip-store.js";
import { type AgentDatabase, openAgentDb } from "../src/storage/agent-db.js";

describe("clip upload queue (the clips table)", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: AgentDatabase;
  let store: ClipStore;
  const clip = (eventId: string) => ({
    file: `${eventId}.mp4`,
    eventId,
    sourceId: "line",
    bytes: 1000,
    frames: 20,
    durationMs: 1900,
  });

  beforeAll(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
    store = new ClipStore(db, join(dir.path, "clips"));
  });
  afterAll(async () => {
    db.close();
    await dir.remove();
  });

  it("holds a clip back while its event is still in the outbox, then offers it", () => {
    db.prepare("INSERT INTO outbox (seq, id, payload) VALUES (1, 'evt-a', '{}')").run();
    store.add(clip("evt-a"));
    expect(store.depth()).toBe(1);
    expect(store.due(Date.now(), 10)).toEqual([]);
    expect(store.nextDueAt()).toBeUndefined();
    db.prepare("DELETE FROM outbox WHERE id = 'evt-a'").run();
    expect(store.due(Date.now(), 10)).toEqual([
      { key: "evt-a.mp4", file: "evt-a.mp4", eventId: "evt-a", frames: 20, durationMs: 1900, attempts: 0 },
    ]);
  });

  it("defers a failed try, and retries at once when the link comes back", () => {
    const [row] = store.due(Date.now(), 10);
    const later = Date.now() + 60_000;
    store.defer(row!, 1, later);
    expect(store.due(Date.now(), 10)).toEqual([]);
    expect(store.nextDueAt()).toBe(later);
    store.retryNow();
    expect(store.due(Date.now(), 10)).toMatchObject([{ eventId: "evt-a", attempts: 1 }]);
  });

  it("keeps uploaded and refused clips on the device without offering them again, and drops a vanished one", async () => {
    store.add(clip("evt-b"));
    store.add(clip("evt-c"));
    const rows = store.due(Date.now(), 10);
    expect(rows.map((r) => r.eventId)).toEqual(["evt-a", "evt-b", "evt-c"]);
    await store.done(rows[0]!, "uploaded");
    await store.done(rows[1]!, "refused");
    await store.done(rows[2]!, "missing");
    expect(store.due(Date.now(), 10)).toEqual([]);
    expect(store.depth()).toBe(0);
    expect(
      store
        .list()
        .map((c) => [c.eventId, c.upload])
        .sort(),
    ).toEqual([
      ["evt-a", "uploaded"],
      ["evt-b", "refused"],
    ]);
  });
});
