import { type DeviceTelemetry, type FleetTelemetry, type Telemetry, topics } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { TelemetryHistory } from "../src/telemetry/telemetry-history.js";
import { backends, connectDevice, seed, startHub, type TestHub } from "./helpers.js";

/**
 * The hub keeps devices' telemetry as one point per device per minute: merged in memory from
 * real MQTT messages, written in a few upserts per flush, read back resampled, pruned past its
 * window in batches, on SQLite and PostgreSQL. The hub's clock for telemetry is the test's, so
 * minutes pass without waiting for them.
 */
const MIN = 60_000;
const HOUR = 60 * MIN;
/** an hour boundary two to three hours ago: the test's minutes follow it */
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;

const list = await backends("telemetry-history");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

function telemetry(over: Partial<Telemetry> = {}): Telemetry {
  return {
    v: 1,
    ts: new Date().toISOString(),
    fps: 10,
    latencyMs: { p50: 20, p95: 40 },
    framesTotal: 100,
    framesDropped: 0,
    outboxDepth: 0,
    mediaQueueDepth: 0,
    ...over,
  };
}

describe.each(list)("telemetry history ($name)", (backend) => {
  let t: TestHub;
  let now = BASE;
  let projectId: string;
  let device: MqttClient;
  let secrets: Record<string, string>;

  /** Publishes over the device's own connection and waits until the hub merged them all. */
  async function send(client: MqttClient, hub: TestHub, deviceId: string, messages: Telemetry[]): Promise<void> {
    const before = hub.hub.telemetry.counters.recorded;
    for (const m of messages) await client.publishAsync(topics.telemetry(deviceId), JSON.stringify(m), { qos: 1 });
    await waitFor("telemetry recorded", () => hub.hub.telemetry.counters.recorded === before + messages.length, {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
  }

  async function history(deviceId: string, query: Record<string, string>): Promise<DeviceTelemetry> {
    const r = await t.call<DeviceTelemetry>(
      "GET",
      `/api/v1/devices/${deviceId}/telemetry?${new URLSearchParams(query)}`,
    );
    if (r.status !== 200) throw new Error(`telemetry of ${deviceId}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }

  const rows = (deviceId: string) =>
    t.hub.store.db
      .selectFrom("telemetry_points")
      .selectAll()
      .where("device_id", "=", deviceId)
      .orderBy("minute")
      .execute();

  beforeAll(async () => {
    t = await startHub(
      // no flush by timer: the test says when points are written
      { database: backend.database(), telemetry: { flushSeconds: 3600, pruneBatch: 7 } },
      { deps: { telemetryClock: () => now } },
    );
    ({ projectId, secrets } = await seed(t.call, "tele", [{ id: "cam-1" }, { id: "cam-2" }]));
    await seed(t.call, "other", [{ id: "cam-x" }]);
    device = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"]!);
  });

  afterAll(async () => {
    await device?.endAsync();
    await t?.close();
  });

  it("merges a minute's messages into one point, written by one upsert per flush", async () => {
    now = BASE + 5_000;
    await send(device, t, "cam-1", [
      telemetry({ fps: 8, latencyMs: { p50: 10, p95: 30 }, framesTotal: 100, outboxDepth: 3, ts: iso(BASE + 1_000) }),
      telemetry({ fps: 12, latencyMs: { p50: 30, p95: 90 }, framesTotal: 160, outboxDepth: 1, ts: iso(BASE + 2_000) }),
      telemetry({
        fps: 10,
        latencyMs: { p50: 20, p95: 50 },
        framesTotal: 220,
        framesDropped: 2,
        ts: iso(BASE + 3_000),
      }),
    ]);
    now = BASE + MIN + 5_000;
    await send(device, t, "cam-1", [telemetry({ fps: 4, framesTotal: 250, framesDropped: 5, captureQueueDepth: 7 })]);
    // nothing is written per message
    expect(await rows("cam-1")).toHaveLength(0);
    const statements = t.hub.telemetry.counters.statements;
    await t.hub.telemetry.flush();
    expect(t.hub.telemetry.counters.statements - statements).toBe(1);
    const stored = await rows("cam-1");
    expect(stored).toHaveLength(2);
    expect(stored[0]).toMatchObject({
      minute: iso(BASE),
      samples: 3,
      fps_sum: 30,
      fps_min: 8,
      fps_max: 12,
      p50_sum: 60,
      p95_max: 90,
      outbox_max: 3,
      frames_total: 220,
      frames_dropped: 2,
      capture_queue_max: null,
    });
    expect(stored[1]).toMatchObject({ minute: iso(BASE + MIN), samples: 1, frames_total: 250, capture_queue_max: 7 });

    // more of the second minute after the flush: the next flush merges into the same row
    await send(device, t, "cam-1", [telemetry({ fps: 6, framesTotal: 260, framesDropped: 5, captureQueueDepth: 2 })]);
    // a reader sees the point not yet written, merged with the stored one
    const before = await history("cam-1", { since: iso(BASE), until: iso(BASE + 2 * MIN) });
    expect(before.points.map((p) => p.samples)).toEqual([3, 2]);
    await t.hub.telemetry.flush();
    const merged = await rows("cam-1");
    expect(merged).toHaveLength(2);
    expect(merged[1]).toMatchObject({
      samples: 2,
      fps_sum: 10,
      fps_min: 4,
      fps_max: 6,
      frames_total: 260,
      capture_queue_max: 7,
    });

    const h = await history("cam-1", { since: iso(BASE), until: iso(BASE + 2 * MIN) });
    expect(h.step).toBe(60);
    expect(h.points).toEqual([
      {
        t: iso(BASE),
        samples: 3,
        fps: 10,
        fpsMin: 8,
        fpsMax: 12,
        p50: 20,
        p95: 90,
        framesTotal: 220,
        framesDropped: 2,
        framesDelta: null,
        droppedDelta: null,
        outboxDepth: 3,
        mediaQueueDepth: 0,
        captureQueueDepth: null,
        eventsDropped: null,
        mediaEvicted: null,
      },
      expect.objectContaining({ t: iso(BASE + MIN), samples: 2, fps: 5, framesDelta: 40, droppedDelta: 3 }),
    ]);
  });

  it("writes 1,000 devices' minute in two statements", async () => {
    const history = t.hub.telemetry;
    now = BASE + 3 * MIN;
    const merging = performance.now();
    for (let round = 0; round < 5; round++) {
      for (let d = 0; d < 1000; d++) history.record(`load-${d}`, telemetry({ fps: round, framesTotal: round }));
    }
    const merged = performance.now() - merging;
    const before = { ...history.counters };
    const started = performance.now();
    await history.flush();
    const ms = performance.now() - started;
    expect(history.counters.statements - before.statements).toBe(2);
    expect(history.counters.written - before.written).toBe(1000);
    const n = await t.hub.store.db
      .selectFrom("telemetry_points")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("device_id", "like", "load-%")
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1000);
    const one = await rows("load-7");
    expect(one).toMatchObject([{ samples: 5, fps_sum: 10, fps_min: 0, fps_max: 4, frames_total: 4 }]);
    console.log(
      `[telemetry-history ${backend.name}] 5,000 messages of 1,000 devices merged in ${merged.toFixed(1)} ms, flushed in ${ms.toFixed(0)} ms`,
    );
  });

  it("resamples long ranges to the step, and refuses ranges it cannot answer", async () => {
    // three hours of cam-2, one message a minute, fps rising by one a minute
    for (let m = 0; m < 180; m++) {
      now = BASE - 60 * MIN + m * MIN;
      t.hub.telemetry.record("cam-2", telemetry({ fps: m, latencyMs: { p50: 5, p95: m }, framesTotal: m * 600 }));
    }
    await t.hub.telemetry.flush();
    now = BASE + 120 * MIN;
    const since = iso(BASE - 60 * MIN);
    const until = iso(BASE + 120 * MIN);
    const tenMin = await history("cam-2", { since, until, step: "600" });
    expect(tenMin.points).toHaveLength(18);
    expect(tenMin.points[0]).toMatchObject({ samples: 10, fps: 4.5, fpsMin: 0, fpsMax: 9, p95: 9, framesDelta: null });
    expect(tenMin.points[1]).toMatchObject({ samples: 10, fps: 14.5, framesTotal: 19 * 600, framesDelta: 6000 });
    // the step left to the hub: at most 360 points
    const day = await history("cam-2", { since: iso(BASE + 120 * MIN - 86_400_000), until });
    expect(day.step).toBe(240);
    expect(day.points.reduce((s, p) => s + p.samples, 0)).toBe(180);
    // the last hour by default
    const hour = await history("cam-2", {});
    expect(hour.points).toHaveLength(60);
    expect(hour.points[0]).toMatchObject({ t: iso(BASE + HOUR), fps: 120 });
    expect(Date.parse(hour.until) - Date.parse(hour.since)).toBe(3_600_000);

    const bad = async (path: string) => {
      const r = await t.call<{ error: { code: string } }>("GET", path);
      return [r.status, r.json.error?.code];
    };
    const q = (o: Record<string, string>) => new URLSearchParams(o).toString();
    expect(await bad(`/api/v1/devices/cam-2/telemetry?${q({ since: until, until: since })}`)).toEqual([
      400,
      "KENSA_ERR_TELEMETRY_RANGE_INVALID",
    ]);
    expect(
      await bad(`/api/v1/devices/cam-2/telemetry?${q({ since: iso(BASE - 7 * 86_400_000), step: "60" })}`),
    ).toEqual([400, "KENSA_ERR_TELEMETRY_RANGE_INVALID"]);
    expect(await bad(`/api/v1/devices/cam-2/telemetry?step=90`)).toEqual([400, "KENSA_ERR_VALIDATION"]);
    expect(await bad(`/api/v1/devices/nobody/telemetry`)).toEqual([404, "KENSA_ERR_DEVICE_NOT_FOUND"]);
    expect(await bad(`/api/v1/telemetry?${q({ since: iso(now - 25 * 3_600_000) })}`)).toEqual([
      400,
      "KENSA_ERR_TELEMETRY_RANGE_INVALID",
    ]);

    // the fleet: the project's devices only, compactly
    now = BASE + 120 * MIN + 30_000;
    t.hub.telemetry.record("cam-x", telemetry());
    const fleet = await t.call<FleetTelemetry>("GET", `/api/v1/telemetry?${q({ projectId, step: "600" })}`);
    expect(fleet.status).toBe(200);
    expect(fleet.json.devices.map((d) => d.deviceId)).toEqual(["cam-2"]);
    const cam2 = fleet.json.devices[0]!;
    expect(cam2.at).toEqual([0, 1, 2, 3, 4, 5]);
    expect(cam2.fps).toEqual([124.5, 134.5, 144.5, 154.5, 164.5, 174.5]);
    expect(cam2.p95).toEqual([129, 139, 149, 159, 169, 179]);
    const all = await t.call<FleetTelemetry>("GET", "/api/v1/telemetry");
    expect(all.json.devices.map((d) => d.deviceId)).toEqual(["cam-2", "cam-x"]);
  });

  it("deletes points past the window, in batches", async () => {
    const history = t.hub.telemetry;
    await history.flush();
    const count = async () =>
      Number(
        (
          await t.hub.store.db
            .selectFrom("telemetry_points")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("device_id", "=", "cam-2")
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count()).toBe(180);
    // 7 days after cam-2's 30th minute: its first 30 minutes are past the window (pruneBatch 7)
    const pruned = history.counters.pruned;
    const deleted = await history.prune(BASE - 30 * MIN + 7 * 86_400_000);
    expect(await count()).toBe(150);
    // cam-1's and the load devices' minutes are younger: they stay
    expect(deleted).toBe(30);
    expect(history.counters.pruned - pruned).toBe(30);
    expect(await history.prune(BASE - 30 * MIN + 7 * 86_400_000)).toBe(0);
    const metrics = await t.call<string>("GET", "/metrics");
    expect(metrics.json).toMatch(/kensa_telemetry_points_pruned_total 30\b/);
    expect(metrics.json).toMatch(/kensa_telemetry_points_written_total [1-9]\d*/);
    expect(metrics.json).toMatch(/kensa_telemetry_messages_total\{outcome="recorded"\} [1-9]\d*/);
  });
});

describe("the telemetry config", () => {
  it("keeps 7 days by default and refuses a window of nothing", () => {
    const config = parseHubConfig({});
    expect(config.telemetry).toMatchObject({ enabled: true, windowDays: 7, flushSeconds: 15 });
    expect(() => parseHubConfig({ telemetry: { windowDays: 0 } })).toThrow(/\/telemetry\/windowDays/);
  });

  it("records nothing when turned off", () => {
    const history = new TelemetryHistory({
      db: undefined as never,
      config: { ...parseHubConfig({}).telemetry, enabled: false },
      log: { warn: () => {}, info: () => {} } as never,
    });
    history.record("cam-1", telemetry());
    expect(history.pending()).toEqual([]);
    expect(history.counters.recorded).toBe(0);
  });
});

const postgres = list.find((b) => b.name === "postgres");

describe.skipIf(!postgres)("two hub replicas on one PostgreSQL", () => {
  let a: TestHub;
  let b: TestHub;
  let now = BASE;
  let dir: TempDir;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const database = postgres!.database("replicas");
    const config = { database, telemetry: { flushSeconds: 3600 } };
    // replicas share their data dir (blobs, the signing key)
    dir = await tempDir("kensa-telemetry-replicas-");
    a = await startHub(config, { dir, deps: { telemetryClock: () => now } });
    b = await startHub(config, { dir, deps: { telemetryClock: () => now } });
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync();
    await a?.close();
    await b?.close();
    await dir?.remove();
  });

  it("write one point per device and minute, holding what each received", async () => {
    const { secrets } = await seed(a.call, "replicated", [{ id: "cam-r" }]);
    // the device's messages of one minute reach both replicas (it reconnected to the other one)
    const toA = await connectDevice(a.mqttUrl, "cam-r", secrets["cam-r"]!);
    const toB = await connectDevice(b.mqttUrl, "cam-r", secrets["cam-r"]!);
    clients.push(toA, toB);
    now = BASE + 1_000;
    const wait = async (hub: TestHub, n: number) =>
      waitFor("recorded", () => hub.hub.telemetry.counters.recorded === n, { timeoutMs: 10_000, intervalMs: 10 });
    for (const [fps, ts] of [
      [6, 1],
      [8, 2],
      [10, 3],
    ] as const) {
      await toA.publishAsync(
        topics.telemetry("cam-r"),
        JSON.stringify(telemetry({ fps, framesTotal: fps, ts: iso(BASE + ts * 1000) })),
        { qos: 1 },
      );
    }
    for (const [fps, ts] of [
      [2, 4],
      [14, 5],
    ] as const) {
      await toB.publishAsync(
        topics.telemetry("cam-r"),
        JSON.stringify(telemetry({ fps, framesTotal: fps * 10, ts: iso(BASE + ts * 1000) })),
        { qos: 1 },
      );
    }
    await wait(a, 3);
    await wait(b, 2);
    // both flush at once, as their timers would
    await Promise.all([a.hub.telemetry.flush(), b.hub.telemetry.flush()]);
    // and again with more of the same minute on A
    await toA.publishAsync(
      topics.telemetry("cam-r"),
      JSON.stringify(telemetry({ fps: 10, framesTotal: 10, ts: iso(BASE) })),
      { qos: 1 },
    );
    await wait(a, 4);
    await Promise.all([a.hub.telemetry.flush(), b.hub.telemetry.flush()]);

    const stored = await a.hub.store.db
      .selectFrom("telemetry_points")
      .selectAll()
      .where("device_id", "=", "cam-r")
      .execute();
    expect(stored).toHaveLength(1);
    // the latest message by the agent's time (ts 5 s, via B) holds the counters
    expect(stored[0]).toMatchObject({
      samples: 6,
      fps_sum: 50,
      fps_min: 2,
      fps_max: 14,
      frames_total: 140,
      last_ts: iso(BASE + 5000),
    });
    for (const hub of [a, b]) {
      const h = await hub.call<DeviceTelemetry>(
        "GET",
        `/api/v1/devices/cam-r/telemetry?since=${iso(BASE)}&until=${iso(BASE + MIN)}`,
      );
      expect(h.json.points).toHaveLength(1);
      expect(h.json.points[0]).toMatchObject({ samples: 6, fps: 8.33, fpsMin: 2, fpsMax: 14 });
    }
  });
});

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
