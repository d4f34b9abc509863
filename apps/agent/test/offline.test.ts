import { join } from "node:path";
import { type Event, topics } from "@kensa/contracts";
import { type AgentProcess, spawnAgent, waitFor } from "@kensa/testkit";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { deviceBed } from "./helpers/device-bed.js";
import { desired } from "./helpers/watcher.js";

const deviceId = "cam-offline";
const secret = "offline-secret";

/** counts in the agent's database, read beside the running process (WAL allows it) */
function dbCounts(dataDir: string): { outbox: number; media: number; captures: number; seq: number } {
  const db = new Database(join(dataDir, "agent.db"), { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      outbox: n("SELECT COUNT(*) AS n FROM outbox"),
      media: n("SELECT COUNT(*) AS n FROM media WHERE uploaded_at IS NULL"),
      captures: n("SELECT COUNT(*) AS n FROM captures"),
      seq: n("SELECT value AS n FROM counters WHERE name = 'event_seq'"),
    };
  } finally {
    db.close();
  }
}

describe("offline: broker and hub unreachable mid-run (real agent process)", () => {
  const bed = deviceBed(deviceId, secret);
  let agent: AgentProcess | undefined;

  afterAll(async () => {
    await agent?.kill("SIGKILL");
  });

  it("keeps inspecting, queues events, frames and captures, and flushes them all in order when the link returns", async () => {
    const bundle = bed.hub.addBundle("mv-offline");
    await bed.watcher.setDesired(desired(1, bundle.ref));
    const dataDir = join(bed.dir.path, "agent");
    const config = {
      deviceId,
      hubUrl: bed.hub.url,
      mqttUrl: bed.broker.url,
      dataDir,
      sources: [{ id: "line", type: "synthetic", fps: 20, seed: 11, defectRate: 0.4 }],
      // a random share of frames is captured for learning, exact repeats aside
      capture: { sampleRate: 0.3, band: null, dedupe: { maxDistance: 0 } },
      telemetryIntervalMs: 500,
      status: { port: 0 },
    };
    agent = await spawnAgent(config, join(bed.dir.path, "agent.json"), { KENSA_DEVICE_SECRET: secret });
    await waitFor("events online", () => bed.watcher.events.length >= 20, { timeoutMs: 30_000 });
    await waitFor(
      "a frame and a capture uploaded online",
      () => bed.hub.uploads.length > 0 && bed.hub.captures.length > 0,
      {
        timeoutMs: 15_000,
      },
    );

    // the link goes: broker and hub both unreachable
    await bed.broker.stop();
    await bed.hub.stop();
    const offline = await waitFor(
      "a backlog of events, frames and captures on the device",
      () => {
        const c = dbCounts(dataDir);
        return c.outbox >= 60 && c.media >= 5 && c.captures >= 5 ? c : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(agent.child.exitCode).toBeNull();

    // the link returns: the hub first, as a restarted site would come up, then the broker
    await bed.hub.restart();
    await bed.broker.restart();
    const flushed = await waitFor(
      "the backlog flushed",
      () => {
        const c = dbCounts(dataDir);
        return c.seq >= offline.seq && c.outbox < 10 && bed.watcher.events.some((e) => e.seq >= offline.seq)
          ? c
          : undefined;
      },
      { timeoutMs: 30_000 },
    );
    // frames and captures of every event up to the end of the outage reach the hub
    await waitFor(
      "frames and captures of the outage uploaded",
      () => {
        const upTo = bed.watcher.events.filter((e) => e.seq <= offline.seq);
        const frames = new Set(bed.hub.uploads.map((u) => u.eventId));
        const caps = new Set(bed.hub.captures.filter((c) => c.status < 300).map((c) => c.id));
        return upTo.every((e) => (!e.media || frames.has(e.id)) && (!e.capture || caps.has(e.capture.id)));
      },
      { timeoutMs: 30_000 },
    );
    expect(flushed.seq).toBeGreaterThanOrEqual(offline.seq);

    expect(await agent.kill("SIGTERM")).toBe(0);
    const end = dbCounts(dataDir);
    expect(end.outbox).toBe(0);
    const n = end.seq;

    // zero loss: the broker received every seq 1..N, first sightings in seq order
    const sent = bed.broker.received
      .filter((r) => r.topic === topics.events(deviceId))
      .map((r) => JSON.parse(r.payload.toString()) as Event);
    const firstSightings = [...new Set(sent.map((e) => e.seq))];
    expect(firstSightings).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(new Set(sent.map((e) => e.id)).size).toBe(n);
    // and the hub side saw all of them
    expect(new Set(bed.watcher.events.map((e) => e.seq)).size).toBe(n);
    const outage = bed.watcher.events.filter((e) => e.seq > 20 && e.seq <= offline.seq);
    expect(outage.filter((e) => e.media).length).toBeGreaterThan(0);
    expect(outage.filter((e) => e.capture).length).toBeGreaterThan(0);
    expect(agent.logs.filter((l) => l.code === "KENSA_ERR_EVENTS_DROPPED")).toEqual([]);
    // telemetry carries the loss counter, and it is zero
    expect(bed.watcher.telemetry.at(-1)).toMatchObject({ eventsDropped: 0 });
  });
});
