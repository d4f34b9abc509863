import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CaptureQueue } from "../src/capture/capture-queue.js";
import { ClipStore } from "../src/clips/clip-store.js";
import { Logger } from "../src/logger.js";
import { type AgentDatabase, Counter, openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { type EventDraft, Outbox } from "../src/storage/outbox.js";
import { QuotaKeeper, type QuotaLimits } from "../src/storage/quota-keeper.js";

const quiet = new Logger("error", {}, () => undefined);
const KB = 1000;
const huge = 1e15;

/** bytes of the files under `path` (what a full disk is full of) */
function duSync(path: string): number {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? duSync(p) : statSync(p).size;
  }
  return total;
}

function draft(i: number, pad = 0): EventDraft {
  return {
    deviceId: "cam-1",
    pipeline: "default",
    sourceId: "line",
    ts: new Date(1_700_000_000_000 + i).toISOString(),
    bundle: { sha256: "a".repeat(64), modelVersionId: "m1" },
    frame: { width: 320, height: 240, meta: { i, pad: "x".repeat(pad) } },
    result: { task: "classification", label: "defect", score: 0.9, scores: {}, finding: true },
    latencyMs: { preprocess: 1, inference: 2, total: 3 },
  };
}

describe("disk quotas: media goes before events, captures first", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: AgentDatabase;
  let outbox: Outbox;
  let media: MediaQueue;
  let captures: CaptureQueue;
  let clips: ClipStore;
  const dirs = () => ({
    media: join(dir.path, "media"),
    captures: join(dir.path, "captures"),
    clips: join(dir.path, "clips"),
    bundles: join(dir.path, "bundles"),
  });
  const keeper = (limits: QuotaLimits, freeBytes: () => number | Promise<number> = () => huge) =>
    new QuotaKeeper({
      db,
      dataDir: dir.path,
      spools: { media, captures, clips },
      bundlesDir: dirs().bundles,
      outbox,
      eventsDropped: new Counter(db, "events_dropped"),
      mediaEvicted: new Counter(db, "media_evicted"),
      logger: quiet,
      freeBytes: async () => freeBytes(),
      // sizes as written; rounding to the filesystem's blocks is tested in quota-exact.test.ts
      blockBytes: 1,
      ...limits,
    });

  beforeEach(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
    media = new MediaQueue(db, dirs().media);
    outbox = new Outbox(db, media);
    captures = new CaptureQueue(db, dirs().captures);
    await captures.reap();
    clips = new ClipStore(db, dirs().clips);
    await clips.reap();
  });
  afterEach(async () => {
    db.close();
    await dir.remove();
  });

  it("over the media quota: uploaded copies, then captures (oldest first) go; frames waiting and every event stay", async () => {
    // five incident frames of 10 kB; the first two are uploaded (kept as the local ring buffer)
    const incidents = [];
    for (let i = 1; i <= 5; i++) incidents.push(await outbox.append(draft(i), randomBytes(10 * KB)));
    outbox.remove([1, 2]);
    for (const row of media.due(Date.now(), 2)) await media.done(row, "uploaded");
    for (let i = 1; i <= 3; i++)
      await captures.enqueue(`cap-${i}-xxxx`, "line", randomBytes(10 * KB), { reason: "random", ts: "t" });
    for (let i = 6; i <= 25; i++) await outbox.append(draft(i));
    expect(media.depth()).toBe(3);

    // 80 kB of media against 35 kB: 45 kB must go → 2 uploaded (20 kB) + 3 captures (30 kB)
    const pass = await keeper({ mediaQuotaBytes: 35 * KB, offlineQuotaBytes: huge, minFreeBytes: 0 }).enforce();
    expect(pass.evicted).toEqual({ uploaded: 2, captures: 3, clips: 0, pending: 0 });
    expect(pass.eventsDropped).toBe(0);
    expect(captures.depth()).toBe(0);
    expect(readdirSync(dirs().captures)).toEqual([]);
    // the three frames still waiting for upload are there, with every event
    expect(media.depth()).toBe(3);
    expect(readdirSync(dirs().media).sort()).toEqual(
      incidents
        .slice(2)
        .map((e) => `${e.id}.jpg`)
        .sort(),
    );
    expect(outbox.peek(0, 100).map((r) => r.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 3));
    expect(new Counter(db, "media_evicted").value).toBe(5);
    expect(new Counter(db, "events_dropped").value).toBe(0);

    // a second pass under the quota touches nothing
    const again = await keeper({ mediaQuotaBytes: 35 * KB, offlineQuotaBytes: huge, minFreeBytes: 0 }).enforce();
    expect(again.evicted).toEqual({ uploaded: 0, captures: 0, clips: 0, pending: 0 });
  });

  it("only evicts a frame still waiting when nothing cheaper is left, and only as much as needed", async () => {
    for (let i = 1; i <= 4; i++) await outbox.append(draft(i), randomBytes(10 * KB));
    await captures.enqueue("cap-1-xxxx", "line", randomBytes(10 * KB), { reason: "random", ts: "t" });
    // 50 kB against 25 kB: the capture, then the two oldest waiting frames
    const pass = await keeper({ mediaQuotaBytes: 25 * KB, offlineQuotaBytes: huge, minFreeBytes: 0 }).enforce();
    expect(pass.evicted).toEqual({ uploaded: 0, captures: 1, clips: 0, pending: 2 });
    expect(outbox.depth()).toBe(4);
    const left = db.prepare("SELECT event_id FROM media ORDER BY created_at").all() as Array<{ event_id: string }>;
    const ids = outbox.peek(0, 10).map((r) => r.id);
    expect(left.map((r) => r.event_id)).toEqual(ids.slice(2));
  });

  it("disk nearly full: after all media, the oldest events are deleted, counted and persisted — and the next pass stops", async () => {
    for (let i = 1; i <= 100; i++) await outbox.append(draft(i, 2000), i % 10 === 0 ? randomBytes(5 * KB) : undefined);
    await captures.enqueue("cap-1-xxxx", "line", randomBytes(5 * KB), { reason: "random", ts: "t" });
    // a disk with 20 kB left of the 80 kB the agent wants free: 55 kB of media is not enough
    const capacity = duSync(dir.path) + 20 * KB;
    const disk = () => Math.max(0, capacity - duSync(dir.path));
    const limits = { mediaQuotaBytes: huge, offlineQuotaBytes: huge, minFreeBytes: 80 * KB };
    const pass = await keeper(limits, disk).enforce();
    expect(pass.evicted).toEqual({ uploaded: 0, captures: 1, clips: 0, pending: 10 });
    expect(pass.eventsDropped).toBeGreaterThan(0);
    const seqs = outbox.peek(0, 1000).map((r) => r.seq);
    // the oldest went; what is left is the newest, contiguous up to the last
    expect(seqs[0]).toBe(pass.eventsDropped + 1);
    expect(seqs.at(-1)).toBe(100);
    expect(seqs.length).toBe(100 - pass.eventsDropped);
    // freed pages are reused by the next inserts, so the next pass sees room and drops nothing more
    const next = await keeper(limits, disk).enforce();
    expect(next.eventsDropped).toBe(0);
    // the counter survives a restart
    db.close();
    db = openAgentDb(dir.path);
    outbox = new Outbox(db, new MediaQueue(db, dirs().media));
    expect(new Counter(db, "events_dropped").value).toBe(pass.eventsDropped);
    expect(existsSync(join(dirs().media))).toBe(true);
  });
});
