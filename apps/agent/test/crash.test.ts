import { join } from "node:path";
import { type AgentProcess, spawnAgent, waitFor } from "@kensa/testkit";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { deviceBed } from "./helpers/device-bed.js";
import { desired } from "./helpers/watcher.js";

const deviceId = "cam-crash";
const secret = "crash-secret";

describe("agent process killed mid-stream", () => {
  const bed = deviceBed(deviceId, secret);
  const procs: AgentProcess[] = [];

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill("SIGKILL")));
  });

  it("loses no event: after SIGKILL and restart the broker saw every seq 1..N exactly under one id", async () => {
    const bundle = bed.hub.addBundle("mv-crash");
    await bed.watcher.setDesired(desired(1, bundle.ref));
    const config = {
      deviceId,
      hubUrl: bed.hub.url,
      mqttUrl: bed.broker.url,
      dataDir: join(bed.dir.path, "agent"),
      sources: [{ id: "line", type: "synthetic", fps: 25, seed: 3, defectRate: 0.3 }],
      telemetryIntervalMs: 1000,
      status: { port: 0 },
    };
    const configPath = join(bed.dir.path, "agent.json");
    const env = { KENSA_DEVICE_SECRET: secret };

    const first = await spawnAgent(config, configPath, env);
    procs.push(first);
    await waitFor("events from the first process", () => bed.watcher.events.length >= 40, { timeoutMs: 30_000 });
    // cut the broker so the process dies with a backlog only its SQLite outbox knows about
    await bed.broker.stop();
    const seenBeforeCut = Math.max(...bed.watcher.events.map((e) => e.seq));
    await waitFor(
      "a backlog in the cut-off process's outbox",
      () => {
        const db = new Database(join(config.dataDir, "agent.db"), { readonly: true });
        try {
          return (db.prepare("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n >= 20;
        } finally {
          db.close();
        }
      },
      { timeoutMs: 20_000 },
    );
    expect(await first.kill("SIGKILL")).toBe("SIGKILL");
    const killedAt = Date.now();
    await bed.broker.restart();

    const second = await spawnAgent(config, configPath, env);
    procs.push(second);
    await waitFor(
      "events from the second process",
      () => bed.watcher.events.some((e) => Date.parse(e.ts) > killedAt + 500),
      {
        timeoutMs: 30_000,
      },
    );
    expect(await second.kill("SIGTERM")).toBe(0);
    expect(second.logs.some((l) => l.msg === "restored bundle from disk")).toBe(true);
    expect(bed.watcher.presence.at(-1)?.status).toBe("offline");

    // the device's own count of events it ever created
    const db = new Database(join(config.dataDir, "agent.db"), { readonly: true });
    const counter = db.prepare("SELECT value FROM counters WHERE name = 'event_seq'").get() as { value: number };
    const left = db.prepare("SELECT COUNT(*) AS n FROM outbox").get() as { n: number };
    db.close();
    expect(left.n).toBe(0);
    const n = counter.value;

    const idBySeq = new Map<number, string>();
    for (const e of bed.watcher.events) {
      const known = idBySeq.get(e.seq);
      if (known) expect(e.id).toBe(known);
      idBySeq.set(e.seq, e.id);
    }
    expect([...idBySeq.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(new Set(bed.watcher.events.map((e) => e.id)).size).toBe(n);
    // events the killed process captured while cut off reached the broker through the restart
    const backlog = bed.watcher.events.filter((e) => e.seq > seenBeforeCut && Date.parse(e.ts) < killedAt);
    expect(backlog.length).toBeGreaterThan(10);
  });
});
