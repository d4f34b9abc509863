import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type Event, type InferenceResult, parseManifest } from "@kensa/contracts";
import { mulberry32 } from "@kensa/synth";
import { tempDir } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { buildBlemishModel, buildFixedOutputModel } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { CaptureBudget } from "../src/capture/capture-budget.js";
import { CaptureQueue, type CaptureRow } from "../src/capture/capture-queue.js";
import { type CapturePolicy, Capturer } from "../src/capture/capturer.js";
import { differenceHash, hammingDistance } from "../src/capture/perceptual-hash.js";
import { Pipeline } from "../src/inference/pipeline.js";
import { Logger } from "../src/logger.js";
import { type AgentDatabase, openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { Outbox } from "../src/storage/outbox.js";
import { HttpUploader } from "../src/uplink/http-uploader.js";
import { hubCalls } from "../src/uplink/hub-calls.js";
import { startHubHttp, type TestHub } from "./helpers/hub-http.js";

const quiet = new Logger("error", {}, () => undefined);

/** A 160×120 JPEG of 20×15 random grey blocks: each seed a different scene, the same seed the same one. */
async function scene(seed: number, quality = 90): Promise<Buffer> {
  const rng = mulberry32(seed);
  const w = 160;
  const h = 120;
  const blocks = Array.from({ length: 15 * 20 }, () => Math.floor(rng() * 256));
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      px.fill(blocks[Math.floor(y / 8) * 20 + Math.floor(x / 8)] as number, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

const cls = (label: string, score: number, finding = label === "defect"): InferenceResult => ({
  task: "classification",
  label,
  score,
  scores: { [label]: score },
  finding,
});

describe("perceptual hash", () => {
  it("puts a re-encoded frame within a few bits and a different scene far away", async () => {
    const a = await differenceHash(await scene(1, 95));
    const aLow = await differenceHash(await scene(1, 40));
    const b = await differenceHash(await scene(2));
    expect(hammingDistance(a, a)).toBe(0);
    expect(hammingDistance(a, aLow)).toBeLessThanOrEqual(4);
    expect(hammingDistance(a, b)).toBeGreaterThan(16);
  });
});

describe("capture for learning", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: AgentDatabase;
  let queue: CaptureQueue;
  const policy: CapturePolicy = { band: [0.35, 0.65], disagreement: true, sampleRate: 0.5, maxDistance: 6, last: 8 };
  const day = new Date("2030-03-04T10:00:00Z");
  let n = 0;
  const candidate = async (over: {
    seed: number;
    result: InferenceResult;
    shadow?: InferenceResult;
    at?: Date;
    source?: string;
  }) => ({
    eventId: `evt-${String(++n).padStart(8, "0")}`,
    pipelineId: "default",
    sourceId: over.source ?? "a",
    capturedAt: over.at ?? day,
    image: await scene(over.seed),
    result: over.result,
    ...(over.shadow ? { shadow: over.shadow } : {}),
  });

  beforeEach(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
    queue = new CaptureQueue(db, join(dir.path, "captures"));
    await queue.reap();
  });
  afterEach(async () => {
    db.close();
    await dir.remove();
  });

  it("keeps disagreements, uncertain scores and a random share, in that order of precedence", async () => {
    const draws = [0.4, 0.6];
    const capturer = new Capturer({
      policy,
      budget: new CaptureBudget(db, 100),
      queue,
      logger: quiet,
      random: () => draws.shift() ?? 1,
    });
    const reasons = [];
    // uncertain (0.5 in [0.35, 0.65]) but the shadow disagrees: disagreement wins
    reasons.push(
      await capturer.consider(await candidate({ seed: 1, result: cls("ok", 0.5), shadow: cls("defect", 0.9) })),
    );
    reasons.push(await capturer.consider(await candidate({ seed: 2, result: cls("defect", 0.64) })));
    // a sure frame, the shadow agreeing: only the random draw (0.4 < 0.5 yes, then 0.6 no)
    reasons.push(
      await capturer.consider(await candidate({ seed: 3, result: cls("ok", 0.95), shadow: cls("ok", 0.7) })),
    );
    reasons.push(await capturer.consider(await candidate({ seed: 4, result: cls("ok", 0.95) })));
    expect(reasons.map((r) => r?.reason)).toEqual(["disagreement", "low_confidence", "random", undefined]);
    expect(reasons[0]?.id).toBe("evt-00000001");
    expect(queue.depth()).toBe(3);
    expect(queue.due(Date.now(), 10).map((r) => [r.key, r.query])).toEqual([
      ["evt-00000001", { reason: "disagreement", ts: day.toISOString(), label: "ok", score: 0.5 }],
      ["evt-00000002", { reason: "low_confidence", ts: day.toISOString(), label: "defect", score: 0.64 }],
      ["evt-00000003", { reason: "random", ts: day.toISOString(), label: "ok", score: 0.95 }],
    ]);
    expect(readdirSync(queue.dir).sort()).toEqual(["evt-00000001.jpg", "evt-00000002.jpg", "evt-00000003.jpg"]);
  });

  it("suppresses near-duplicates without spending budget, and holds a persisted daily budget per source and UTC day", async () => {
    const make = () =>
      new Capturer({ policy: { ...policy, sampleRate: 0 }, budget: new CaptureBudget(db, 2), queue, logger: quiet });
    const unsure = cls("defect", 0.5);
    let capturer = make();
    expect(await capturer.consider(await candidate({ seed: 10, result: unsure }))).toBeDefined();
    // the same scene again (a line standing still): a repeat, and no budget spent on it
    expect(await capturer.consider(await candidate({ seed: 10, result: unsure }))).toBeUndefined();
    expect(capturer.stats()).toMatchObject({ captured: 1, duplicates: 1, overBudget: 0 });
    expect(await capturer.consider(await candidate({ seed: 11, result: unsure }))).toBeDefined();
    expect(await capturer.consider(await candidate({ seed: 12, result: unsure }))).toBeUndefined();
    expect(capturer.stats()).toMatchObject({ captured: 2, overBudget: 1 });
    // another source has its own budget
    expect(await capturer.consider(await candidate({ seed: 13, result: unsure, source: "b" }))).toBeDefined();

    // a restart does not refill the day (the count is in the database)…
    db.close();
    db = openAgentDb(dir.path);
    queue = new CaptureQueue(db, join(dir.path, "captures"));
    capturer = make();
    expect(await capturer.consider(await candidate({ seed: 14, result: unsure }))).toBeUndefined();
    // …the next UTC day does: 23:59:59 is still today, 00:00 tomorrow is not
    expect(
      await capturer.consider(await candidate({ seed: 15, result: unsure, at: new Date("2030-03-04T23:59:59Z") })),
    ).toBeUndefined();
    expect(
      await capturer.consider(await candidate({ seed: 15, result: unsure, at: new Date("2030-03-05T00:00:00Z") })),
    ).toBeDefined();
    expect(queue.depth()).toBe(4);
  });

  describe("upload to the hub's capture endpoint (real HTTP)", () => {
    let hub: TestHub;
    beforeEach(async () => {
      hub = await startHubHttp("cam-1", "secret");
    });
    afterEach(async () => {
      await hub.stop();
    });

    it("PUTs each capture with its reason, time and prediction, retries 503s, and is idempotent by id", async () => {
      const capturer = new Capturer({ policy, budget: new CaptureBudget(db, 100), queue, logger: quiet });
      const kept = await capturer.consider(await candidate({ seed: 20, result: cls("defect", 0.42) }));
      const id = kept?.id as string;
      const image = await scene(20);
      const calls = hubCalls(hub.url, "cam-1", "secret");
      const uploader = new HttpUploader<CaptureRow>(queue, {
        name: "capture",
        send: (row, upload) => calls.capture(row.key, row.query, upload),
        concurrency: 1,
        logger: quiet,
        retryBaseMs: 20,
        retryMaxMs: 50,
      });
      hub.failNext(2);
      queue.on("queued", () => uploader.wake());
      uploader.start();
      onTestFinished(() => uploader.stop());
      const deadline = Date.now() + 5000;
      while (queue.depth() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(queue.depth()).toBe(0);
      expect(readdirSync(queue.dir)).toEqual([]);
      expect(hub.captures).toHaveLength(1); // the two 503s were answered before routing
      expect(hub.captures[0]).toMatchObject({
        id,
        status: 201,
        authorized: true,
        contentType: "image/jpeg",
        query: { reason: "low_confidence", ts: day.toISOString(), label: "defect", score: "0.42" },
      });
      expect(Buffer.compare(hub.captures[0]?.bytes ?? Buffer.alloc(0), image)).toBe(0);

      // a crash after the upload but before the row went: the same id again is a repeat, not a new sample
      await queue.enqueue(id, "a", image, { reason: "low_confidence", ts: day.toISOString() });
      const until = Date.now() + 5000;
      while (queue.depth() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(hub.captures.map((c) => c.status)).toEqual([201, 200]);
    });
  });

  it("a pipeline with a shadow model captures the frames the two disagree on, and its events say so", async () => {
    const blemish = buildBlemishModel();
    // a shadow that calls everything OK; the blemish model flags block noise as blemishes
    const shadowManifest = parseManifest({
      task: "classification",
      input: { name: "images", width: 32, height: 32 },
      preprocessing: {},
      labels: blemish.manifest.labels,
      okLabels: blemish.manifest.okLabels,
      postprocessing: { type: "classification" },
      thresholds: { default: 0.5 },
    });
    const values = blemish.manifest.labels.map((l) => (blemish.manifest.okLabels.includes(l) ? 10 : 0));
    const shadowOnnx = buildFixedOutputModel({
      width: 32,
      height: 32,
      outputs: [{ name: "logits", dims: [1, values.length], values }],
    });
    const outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    const capturer = new Capturer({
      policy: { ...policy, band: null, sampleRate: 0 },
      budget: new CaptureBudget(db, 100),
      queue,
      logger: quiet,
    });
    const pipeline = new Pipeline({ id: "default", deviceId: "cam-1", outbox, logger: quiet, capture: capturer });
    await pipeline.swap({
      model: await Inferencer.create(blemish.onnx, blemish.manifest),
      bundle: { sha256: "a".repeat(64), modelVersionId: "main" },
      manifest: blemish.manifest,
    });
    await pipeline.setShadow({
      model: await Inferencer.create(shadowOnnx, shadowManifest),
      bundle: { sha256: "b".repeat(64), modelVersionId: "shadow" },
      manifest: shadowManifest,
    });
    for (let i = 0; i < 3; i++) {
      pipeline.handle({ sourceId: "a", capturedAt: day, image: await scene(30 + i), meta: { i }, queue: true });
    }
    await pipeline.idle();
    const events = outbox.peek(0, 10).map((r) => JSON.parse(r.payload) as Event);
    // every frame the bundle flags disagrees with the shadow's OK; the others agree
    const disagreeing = events.filter((e) => e.result.finding);
    expect(events).toHaveLength(3);
    expect(disagreeing.length).toBeGreaterThan(0);
    for (const e of events) {
      if (e.result.finding) expect(e.capture).toEqual({ id: e.id, reason: "disagreement" });
      else expect(e.capture).toBeUndefined();
    }
    expect(
      queue
        .due(Date.now(), 10)
        .map((r) => r.key)
        .sort(),
    ).toEqual(disagreeing.map((e) => e.id).sort());
    expect(existsSync(join(queue.dir, `${disagreeing[0]?.id}.jpg`))).toBe(true);
    await pipeline.swap(null);
    await pipeline.setShadow(null);
  });
});
