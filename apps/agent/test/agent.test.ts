import type { Event, Reported } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { loadAgentConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import { startBroker, type TestBroker } from "./helpers/broker.js";
import { startHubHttp, type TestBundle, type TestHub } from "./helpers/hub-http.js";
import { type DeviceWatcher, desired, watchDevice } from "./helpers/watcher.js";

const deviceId = "cam-1";
const secret = "device-secret";
// expected errors (the tampered bundle) stay out of the test output unless asked for
const quiet = process.env.KENSA_TEST_VERBOSE ? new Logger("debug") : new Logger("error", {}, () => undefined);

describe("agent: desired state, updates, media, restart from disk", () => {
  let broker: TestBroker;
  let hub: TestHub;
  let watcher: DeviceWatcher;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;
  let good: TestBundle;

  const config = () =>
    loadAgentConfig({
      deviceId,
      secret,
      hubUrl: hub.url,
      mqttUrl: broker.url,
      dataDir: dir.path,
      sources: [{ id: "line", type: "synthetic", fps: 10, seed: 7, defectRate: 0.5 }],
      telemetryIntervalMs: 300,
      reportIntervalMs: 1000,
      status: { port: 0 },
    });
  const lastReported = (): Reported | undefined => watcher.reported.at(-1);

  beforeAll(async () => {
    dir = await tempDir();
    broker = await startBroker({ [deviceId]: secret, hub: "hub" });
    hub = await startHubHttp(deviceId, secret);
    watcher = await watchDevice(broker.url, deviceId, "hub", "hub");
  });
  afterAll(async () => {
    await agent?.stop();
    await watcher?.close();
    await broker?.close();
    await hub?.stop();
    await dir?.remove();
  });

  it("downloads, verifies, loads and reports the desired bundle, then inspects with it", async () => {
    good = hub.addBundle("mv-good");
    await watcher.setDesired(desired(1, good.ref));
    agent = await startAgent(config(), { logger: quiet });

    const loaded = await waitFor("reported loaded", () => {
      const p = lastReported()?.pipelines[0];
      return p?.status === "loaded" && p.bundle?.sha256 === good.ref.sha256 ? lastReported() : undefined;
    });
    expect(loaded.desiredRev).toBe(1);
    expect(loaded.pipelines[0]).toMatchObject({ id: "default", bundle: { modelVersionId: "mv-good" } });
    expect(loaded.pipelines[0]?.warmupMs).toBeGreaterThan(0);
    expect(loaded.pipelines[0]?.error).toBeUndefined();
    expect(["x64", "arm64", "armv7"]).toContain(loaded.arch);
    expect(loaded.sources).toEqual([{ id: "line", type: "synthetic", status: "running" }]);
    expect(hub.downloads.length).toBe(2);
    expect(hub.downloads.every((d) => d.authorized)).toBe(true);
    expect(watcher.presence.at(-1)?.status).toBe("online");

    await waitFor("events from the model", () => watcher.events.length >= 8);
    const e = watcher.events[0] as Event;
    expect(e).toMatchObject({
      v: 1,
      deviceId,
      pipeline: "default",
      sourceId: "line",
      bundle: { sha256: good.ref.sha256, modelVersionId: "mv-good" },
      frame: { width: 320, height: 240, meta: { synthetic: true, seed: 7 } },
      result: { task: "classification" },
    });
    expect(Date.parse(e.ts)).toBeGreaterThan(Date.now() - 60_000);
    expect(watcher.events.map((x) => x.seq).slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("uploads the frames of findings with Basic auth, and only those", async () => {
    const upload = await waitFor("a media upload", () => hub.uploads[0]);
    expect(upload.authorized).toBe(true);
    expect(upload.contentType).toBe("image/jpeg");
    expect([...upload.bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const event = watcher.events.find((x) => x.id === upload.eventId);
    expect(event?.media).toBe(true);
    expect(event?.result.finding).toBe(true);
    const findings = watcher.events.filter((x) => x.result.finding);
    // the simulator draws defects into half the frames; the model must see some of them
    expect(findings.length).toBeGreaterThan(0);
    expect(watcher.events.filter((x) => !x.result.finding).every((x) => x.media === false)).toBe(true);
    await waitFor("the media queue to drain", () => agent?.stats().mediaQueueDepth === 0);
    const uploadedIds = new Set(hub.uploads.map((u) => u.eventId));
    for (const u of hub.uploads) expect(watcher.events.find((x) => x.id === u.eventId)?.media).toBe(true);
    expect(uploadedIds.size).toBe(hub.uploads.length);
  });

  it("publishes telemetry with fps, latency percentiles and queue depths", async () => {
    const t = await waitFor("telemetry with frames", () => watcher.telemetry.find((x) => (x.fps as number) > 0));
    expect(t).toMatchObject({ v: 1 });
    expect((t.latencyMs as { p50: number }).p50).toBeGreaterThan(0);
    expect(t.framesTotal as number).toBeGreaterThan(0);
    expect(typeof t.outboxDepth).toBe("number");
    expect(typeof t.mediaQueueDepth).toBe("number");
  });

  it("rejects a bundle whose model does not match its sha256 and keeps running the previous model", async () => {
    const tampered = Uint8Array.from(good.modelBytes);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0xff;
    const bad = hub.addBundle("mv-bad", { serveModel: tampered });
    await watcher.setDesired(desired(2, bad.ref));

    const report = await waitFor("reported hash mismatch", () => {
      const r = lastReported();
      return r?.desiredRev === 2 && r.pipelines[0]?.error ? r : undefined;
    });
    expect(report.pipelines[0]).toMatchObject({
      status: "loaded",
      bundle: { sha256: good.ref.sha256, modelVersionId: "mv-good" },
      error: { code: "KENSA_ERR_BUNDLE_HASH_MISMATCH", bundleSha256: bad.ref.sha256 },
    });
    const seen = watcher.events.length;
    await waitFor("more events", () => watcher.events.length >= seen + 5);
    const after = watcher.events.slice(seen);
    expect(after.every((x) => x.bundle.sha256 === good.ref.sha256)).toBe(true);
  });

  it("after a restart with the hub's HTTP server down, runs the last good bundle from disk", async () => {
    await agent?.stop();
    agent = undefined;
    expect(watcher.presence.at(-1)?.status).toBe("offline");
    const lastSeq = Math.max(...watcher.events.map((x) => x.seq));
    await hub.stop();
    const downloads = hub.downloads.length;
    const reportsBefore = watcher.reported.length;

    agent = await startAgent(config(), { logger: quiet });
    // warm before ready: the model is loaded before startAgent resolves
    expect(agent.reported().pipelines[0]).toMatchObject({ status: "loaded", bundle: { sha256: good.ref.sha256 } });
    const r = await waitFor("a report from the restarted agent", () => watcher.reported[reportsBefore]);
    expect(r.desiredRev).toBe(2);
    await waitFor("events after restart", () => watcher.events.some((x) => x.seq > lastSeq));
    const fresh = watcher.events.filter((x) => x.seq > lastSeq);
    expect(fresh.every((x) => x.bundle.sha256 === good.ref.sha256)).toBe(true);
    expect(Math.min(...fresh.map((x) => x.seq))).toBe(lastSeq + 1);
    expect(hub.downloads.length).toBe(downloads);
    await hub.restart();
  });
});
