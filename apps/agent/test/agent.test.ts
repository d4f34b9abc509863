import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Event, Reported } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { loadAgentConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import { type DeviceBed, deviceBed } from "./helpers/device-bed.js";
import type { TestBundle } from "./helpers/hub-http.js";
import { desired } from "./helpers/watcher.js";

const deviceId = "cam-1";
const secret = "device-secret";
// expected errors (the tampered bundle) stay out of the test output unless asked for
const quiet = process.env.KENSA_TEST_VERBOSE ? new Logger("debug") : new Logger("error", {}, () => undefined);

/** The agent's config against a device bed: reports every second, an ephemeral status port. */
const configFor = (bed: DeviceBed, over: Record<string, unknown>) =>
  loadAgentConfig({
    deviceId,
    secret,
    hubUrl: bed.hub.url,
    mqttUrl: bed.broker.url,
    dataDir: bed.dir.path,
    reportIntervalMs: 1000,
    status: { port: 0 },
    ...over,
  });

describe("agent: desired state, updates, media, restart from disk", () => {
  const bed = deviceBed(deviceId, secret);
  let agent: RunningAgent | undefined;
  let good: TestBundle;

  const config = () =>
    configFor(bed, {
      sources: [{ id: "line", type: "synthetic", fps: 10, seed: 7, defectRate: 0.5 }],
      telemetryIntervalMs: 300,
    });
  const lastReported = (): Reported | undefined => bed.watcher.reported.at(-1);

  afterAll(async () => {
    await agent?.stop();
  });

  it("downloads, verifies, loads and reports the desired bundle, then inspects with it", async () => {
    good = bed.hub.addBundle("mv-good");
    await bed.watcher.setDesired(desired(1, good.ref));
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
    // the manifest and the model; besides them only the ask for the hub's trust roots (docs/bundles.md)
    const files = bed.hub.downloads.filter((d) => d.path !== "/api/v1/signing/trust");
    expect(files.length).toBe(2);
    expect(bed.hub.downloads.every((d) => d.authorized)).toBe(true);
    expect(bed.watcher.presence.at(-1)?.status).toBe("online");

    await waitFor("events from the model", () => bed.watcher.events.length >= 8);
    const e = bed.watcher.events[0] as Event;
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
    expect(bed.watcher.events.map((x) => x.seq).slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("uploads the frames of findings with Basic auth, and only those", async () => {
    const upload = await waitFor("a media upload", () => bed.hub.uploads[0]);
    expect(upload.authorized).toBe(true);
    expect(upload.contentType).toBe("image/jpeg");
    expect([...upload.bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const event = bed.watcher.events.find((x) => x.id === upload.eventId);
    expect(event?.media).toBe(true);
    expect(event?.result.finding).toBe(true);
    const findings = bed.watcher.events.filter((x) => x.result.finding);
    // the simulator draws defects into half the frames; the model must see some of them
    expect(findings.length).toBeGreaterThan(0);
    expect(bed.watcher.events.filter((x) => !x.result.finding).every((x) => x.media === false)).toBe(true);
    await waitFor("the media queue to drain", () => agent?.stats().mediaQueueDepth === 0);
    const uploadedIds = new Set(bed.hub.uploads.map((u) => u.eventId));
    for (const u of bed.hub.uploads) expect(bed.watcher.events.find((x) => x.id === u.eventId)?.media).toBe(true);
    expect(uploadedIds.size).toBe(bed.hub.uploads.length);
  });

  it("publishes telemetry with fps, latency percentiles and queue depths", async () => {
    const t = await waitFor("telemetry with frames", () => bed.watcher.telemetry.find((x) => (x.fps as number) > 0));
    expect(t).toMatchObject({ v: 1 });
    expect((t.latencyMs as { p50: number }).p50).toBeGreaterThan(0);
    expect(t.framesTotal as number).toBeGreaterThan(0);
    expect(typeof t.outboxDepth).toBe("number");
    expect(typeof t.mediaQueueDepth).toBe("number");
  });

  it("rejects a bundle whose model does not match its sha256 and keeps running the previous model", async () => {
    const tampered = Uint8Array.from(good.modelBytes);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0xff;
    const bad = bed.hub.addBundle("mv-bad", { serveModel: tampered });
    await bed.watcher.setDesired(desired(2, bad.ref));

    const report = await waitFor("reported hash mismatch", () => {
      const r = lastReported();
      return r?.desiredRev === 2 && r.pipelines[0]?.error ? r : undefined;
    });
    expect(report.pipelines[0]).toMatchObject({
      status: "loaded",
      bundle: { sha256: good.ref.sha256, modelVersionId: "mv-good" },
      error: { code: "KENSA_ERR_BUNDLE_HASH_MISMATCH", bundleSha256: bad.ref.sha256 },
    });
    const seen = bed.watcher.events.length;
    await waitFor("more events", () => bed.watcher.events.length >= seen + 5);
    const after = bed.watcher.events.slice(seen);
    expect(after.every((x) => x.bundle.sha256 === good.ref.sha256)).toBe(true);
    // the model streamed to disk was checked there: nothing of the bad bundle stays behind
    expect(await readdir(join(bed.dir.path, "bundles"))).toEqual(expect.arrayContaining([good.ref.sha256]));
    expect((await readdir(join(bed.dir.path, "bundles"))).filter((n) => n !== "current.json")).toEqual([
      good.ref.sha256,
    ]);
  });

  it("after a restart with the hub's HTTP server down, runs the last good bundle from disk", async () => {
    await agent?.stop();
    agent = undefined;
    // the agent says "offline" as it stops; the watcher hears it over its own connection, maybe just after
    await waitFor("presence offline", () => bed.watcher.presence.at(-1)?.status === "offline");
    const lastSeq = Math.max(...bed.watcher.events.map((x) => x.seq));
    await bed.hub.stop();
    const downloads = bed.hub.downloads.length;
    const reportsBefore = bed.watcher.reported.length;

    agent = await startAgent(config(), { logger: quiet });
    // warm before ready: the model is loaded before startAgent resolves
    expect(agent.reported().pipelines[0]).toMatchObject({ status: "loaded", bundle: { sha256: good.ref.sha256 } });
    const r = await waitFor("a report from the restarted agent", () => bed.watcher.reported[reportsBefore]);
    expect(r.desiredRev).toBe(2);
    await waitFor("events after restart", () => bed.watcher.events.some((x) => x.seq > lastSeq));
    const fresh = bed.watcher.events.filter((x) => x.seq > lastSeq);
    expect(fresh.every((x) => x.bundle.sha256 === good.ref.sha256)).toBe(true);
    expect(Math.min(...fresh.map((x) => x.seq))).toBe(lastSeq + 1);
    expect(bed.hub.downloads.length).toBe(downloads);
    await bed.hub.restart();
  });
});

describe("agent: where a bundle's model lives", () => {
  const bed = deviceBed(deviceId, secret);
  let agent: RunningAgent | undefined;

  afterAll(async () => {
    await agent?.stop();
  });

  const reportedFor = (rev: number) =>
    waitFor(`the report of rev ${rev}`, () => {
      const r = bed.watcher.reported.at(-1);
      return r?.desiredRev === rev && r.pipelines[0]?.status !== "loading" ? r : undefined;
    });

  it("does not keep a verified bundle whose model ONNX Runtime cannot load", async () => {
    const good = bed.hub.addBundle("mv-1");
    const broken = bed.hub.addBundle("mv-broken", {
      model: { onnx: new TextEncoder().encode("not an onnx model"), manifest: good.manifest.manifest },
    });
    await bed.watcher.setDesired(desired(1, broken.ref));
    agent = await startAgent(configFor(bed, { sources: [{ id: "line", type: "synthetic", fps: 5, seed: 3 }] }), {
      logger: quiet,
    });
    const r = await reportedFor(1);
    expect(r.pipelines[0]).toMatchObject({
      status: "error",
      bundle: null,
      error: { code: "KENSA_ERR_BUNDLE_LOAD_FAILED", bundleSha256: broken.ref.sha256 },
    });
    expect((await readdir(join(bed.dir.path, "bundles"))).filter((n) => n !== "current.json")).toEqual([]);
  });

  it("with the bundle store unwritable, runs a new model from memory and says it will not survive a restart", async () => {
    // the store's directory turned into a file: every write to it fails (a dead or read-only disk)
    await rm(join(bed.dir.path, "bundles"), { recursive: true, force: true });
    await writeFile(join(bed.dir.path, "bundles"), "not a directory");
    const next = bed.hub.addBundle("mv-2");
    await bed.watcher.setDesired(desired(2, next.ref));
    const r = await reportedFor(2);
    expect(r.pipelines[0]).toMatchObject({
      status: "loaded",
      bundle: { sha256: next.ref.sha256, modelVersionId: "mv-2" },
    });
    expect(r.pipelines[0]?.error).toBeUndefined();
    const seen = bed.watcher.events.length;
    await waitFor("events from the model held in memory", () =>
      bed.watcher.events.slice(seen).some((e) => e.bundle.sha256 === next.ref.sha256),
    );
  });
});

describe("agent: one updater per pipeline", () => {
  const bed = deviceBed(deviceId, secret);
  let agent: RunningAgent | undefined;

  afterAll(async () => {
    await agent?.stop();
  });

  const config = () =>
    configFor(bed, {
      sources: [
        { id: "one", type: "synthetic", fps: 5, seed: 1 },
        { id: "two", type: "synthetic", fps: 5, seed: 2, pipeline: "line-2" },
      ],
    });
  const setDesired = (rev: number, bundles: Record<string, TestBundle>) =>
    bed.watcher.setDesired({
      v: 1,
      rev,
      updatedAt: new Date().toISOString(),
      deploymentId: `d${rev}`,
      pipelines: Object.entries(bundles).map(([id, b]) => ({ id, bundle: b.ref })),
    });
  const loaded = (rev: number) =>
    waitFor(`both pipelines on rev ${rev}`, () => {
      const r = bed.watcher.reported.at(-1);
      return r?.desiredRev === rev && r.pipelines.length === 2 && r.pipelines.every((p) => p.status === "loaded")
        ? r
        : undefined;
    });
  const modelsOf = (r: Reported) => r.pipelines.map((p) => [p.id, p.bundle?.modelVersionId]);
  const storedBundles = async () =>
    (await readdir(join(bed.dir.path, "bundles"))).filter((n) => n !== "current.json").sort();

  it("gives each pipeline the bundle the desired state names for it, and prunes none another pipeline runs", async () => {
    const a = bed.hub.addBundle("mv-a");
    const b = bed.hub.addBundle("mv-b");
    await setDesired(1, { default: a, "line-2": b });
    agent = await startAgent(config(), { logger: quiet });
    expect(modelsOf(await loaded(1))).toEqual([
      ["default", "mv-a"],
      ["line-2", "mv-b"],
    ]);
    await waitFor("events from both pipelines' models", () =>
      ["one", "two"].every((s) => bed.watcher.events.some((e) => e.sourceId === s)),
    );
    for (const e of bed.watcher.events) {
      expect([e.sourceId, e.pipeline, e.bundle.sha256]).toEqual(
        e.sourceId === "one" ? ["one", "default", a.ref.sha256] : ["two", "line-2", b.ref.sha256],
      );
    }

    // a new model for line-2 only: default keeps running a, line-2 keeps b for a rollback
    const c = bed.hub.addBundle("mv-c");
    await setDesired(2, { default: a, "line-2": c });
    expect(modelsOf(await loaded(2))).toEqual([
      ["default", "mv-a"],
      ["line-2", "mv-c"],
    ]);
    expect(await storedBundles()).toEqual([a.ref.sha256, b.ref.sha256, c.ref.sha256].sort());
    // and the next one: b is nobody's any more, a still runs on default
    const d = bed.hub.addBundle("mv-d");
    await setDesired(3, { default: a, "line-2": d });
    await loaded(3);
    expect(await storedBundles()).toEqual([a.ref.sha256, c.ref.sha256, d.ref.sha256].sort());
  });

  it("after a restart, runs every pipeline's last bundle from disk", async () => {
    await agent?.stop();
    const downloads = bed.hub.downloads.length;
    agent = await startAgent(config(), { logger: quiet });
    expect(modelsOf(agent.reported())).toEqual([
      ["default", "mv-a"],
      ["line-2", "mv-d"],
    ]);
    expect(agent.reported().desiredRev).toBe(3);
    expect(bed.hub.downloads.length).toBe(downloads);
  });
});
