import { join } from "node:path";
import { compile, Event, type ModelManifest, parseManifest, type Rule } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { buildBlemishModel, buildFixedOutputModel, buildUNet, buildYoloV8Model } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InferenceModel, LoadedBundle } from "../src/inference/model.js";
import { Pipeline } from "../src/inference/pipeline.js";
import { SupervisedModel } from "../src/inference/supervised-model.js";
import { Logger } from "../src/logger.js";
import type { Frame } from "../src/sources/frame-source.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { Outbox } from "../src/storage/outbox.js";

const validEvent = compile(Event);
const quiet = new Logger("error", {}, () => undefined);
const right = {
  polygon: [
    [0.5, 0],
    [1, 0],
    [1, 1],
    [0.5, 1],
  ] as Array<[number, number]>,
};
const left = {
  polygon: [
    [0, 0],
    [0.5, 0],
    [0.5, 1],
    [0, 1],
  ] as Array<[number, number]>,
};

function jpeg(width: number, height: number, seed = 0): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 90 + seed, g: 120, b: 150 } } })
    .jpeg()
    .toBuffer();
}

async function bundle(onnx: Uint8Array, manifest: ModelManifest): Promise<LoadedBundle> {
  return {
    model: await Inferencer.create(onnx, manifest),
    bundle: { sha256: "c".repeat(64), modelVersionId: "mv-test" },
    manifest,
  };
}

describe("pipeline: every task type, rules from the bundle, pipelined decode", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: ReturnType<typeof openAgentDb>;
  let outbox: Outbox;
  let pipeline: Pipeline;
  const events = () => outbox.peek(0, 10_000).map((r) => JSON.parse(r.payload) as Event);
  const frame = (image: Uint8Array, i: number, at = new Date(1_700_000_000_000 + i * 100)): Frame => ({
    sourceId: "cam",
    capturedAt: at,
    image,
    meta: { i },
    queue: true,
  });

  beforeEach(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
    outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    pipeline = new Pipeline({ id: "default", deviceId: "cam-1", outbox, logger: quiet });
  });
  afterEach(async () => {
    await pipeline.idle();
    await pipeline.swap(null);
    db.close();
    await dir.remove();
  });

  it("detection (YOLOv8 layout): PPE rule in a zone hits for the person without a helmet, once per cooldown", async () => {
    // 640×640 frames into a 640×640 stretch input: model px = frame px
    const onnx = buildYoloV8Model({
      width: 640,
      height: 640,
      candidates: [
        { cx: 160, cy: 320, w: 100, h: 300, scores: [0.9, 0] }, // person A, left half → [110,170,100,300]
        { cx: 160, cy: 185, w: 40, h: 30, scores: [0, 0.85] }, // A's helmet → [140,170,40,30]
        { cx: 480, cy: 320, w: 100, h: 300, scores: [0.8, 0] }, // person B, right half, bare-headed
      ],
    });
    const rules: Rule[] = [
      {
        id: "ppe-left",
        name: "Helmets on, bay A",
        type: "required-class",
        labels: ["helmet"],
        subjects: ["person"],
        zone: left,
      },
      {
        id: "ppe-right",
        name: "Helmets on, bay B",
        type: "required-class",
        labels: ["helmet"],
        subjects: ["person"],
        zone: right,
        cooldownS: 60,
      },
    ];
    const manifest = parseManifest({
      task: "detection",
      input: { name: "images", width: 640, height: 640 },
      preprocessing: { resize: "stretch" },
      labels: ["person", "helmet"],
      postprocessing: { type: "detection", layout: "yolov8" },
      thresholds: { default: 0.5 },
      rules,
    });
    await pipeline.swap(await bundle(onnx, manifest));
    const image = await jpeg(640, 640);
    for (let i = 0; i < 3; i++) pipeline.handle(frame(image, i));
    await pipeline.idle();

    const [first, second, third] = events();
    expect(events().every((e) => validEvent.check(e))).toBe(true);
    expect(first?.result.task).toBe("detection");
    if (first?.result.task !== "detection") return;
    expect(first.result.detections.map((d) => d.label).sort()).toEqual(["helmet", "person", "person"]);
    expect(first.rules).toEqual([
      {
        id: "ppe-right",
        name: "Helmets on, bay B",
        type: "required-class",
        hit: true,
        label: "person",
        score: expect.closeTo(0.8, 5),
        detail: {
          required: ["helmet"],
          subjects: 1,
          missing: [{ label: "person", score: 0.8, box: [430, 170, 100, 300], area: 30000 }],
        },
      },
    ]);
    expect(first).toMatchObject({ media: true, result: { finding: true } });
    // the same bare head 100 ms later is inside the rule's 60 s cooldown; thresholds alone do not make findings
    for (const e of [second, third]) expect(e).toMatchObject({ rules: [], media: false, result: { finding: false } });
  });

  it("segmentation (fixed mask): minimum area in px² of the original frame and a zone", async () => {
    // an 8×8 mask for a 64×64 input; 320×320 frames → one mask px is 40×40 = 1600 px²
    const values = new Float32Array(2 * 64);
    for (let i = 0; i < 64; i++) values[i] = 2; // background logit everywhere
    for (const [y, x] of [
      [2, 4],
      [2, 5],
      [3, 4],
      [3, 5],
    ] as const)
      values[64 + y * 8 + x] = 5; // a 2×2 defect
    const onnx = buildFixedOutputModel({
      width: 64,
      height: 64,
      outputs: [{ name: "mask", dims: [1, 2, 8, 8], values }],
    });
    const manifest = parseManifest({
      task: "segmentation",
      input: { name: "images", width: 64, height: 64 },
      preprocessing: {},
      labels: ["background", "crack"],
      okLabels: ["background"],
      postprocessing: { type: "segmentation", output: "mask" },
      thresholds: { default: 0.5 },
      rules: [
        { id: "big", name: "crack ≥ 6000 px²", type: "min-area", minArea: 6000 },
        { id: "huge", name: "crack ≥ 7000 px²", type: "min-area", minArea: 7000 },
        { id: "right", name: "crack on the right", type: "threshold", zone: right },
        { id: "left", name: "crack on the left", type: "threshold", zone: left },
      ],
    });
    await pipeline.swap(await bundle(onnx, manifest));
    pipeline.handle(frame(await jpeg(320, 320), 0));
    await pipeline.idle();
    const [e] = events();
    expect(e && validEvent.check(e)).toBe(true);
    if (e?.result.task !== "segmentation") throw new Error("not a segmentation event");
    // box x 4×40 = 160, y 2×40 = 80, 80×80; centre x 200 / 320 = 0.625 → right half
    expect(e.result.regions).toEqual([
      {
        label: "crack",
        area: 6400,
        maskArea: 4,
        box: [160, 80, 80, 80],
        score: expect.closeTo(1 / (1 + Math.exp(-3)), 4),
        // mask corners (4,2) (6,2) (6,4) (4,4), × 40
        outline: [
          [160, 80],
          [240, 80],
          [240, 160],
          [160, 160],
        ],
      },
    ]);
    expect(e.rules?.map((r) => r.id)).toEqual(["big", "right"]);
    expect(e.rules?.[0]).toMatchObject({ label: "crack", detail: { minArea: 6000, matched: [{ area: 6400 }] } });
  });

  it("anomaly (fixed map) and a real U-Net run too; without rules an event has no `rules` and thresholds decide", async () => {
    const map = [0.1, 0.2, 0.1, 0.1, 0.1, 0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    const onnx = buildFixedOutputModel({
      width: 32,
      height: 32,
      outputs: [{ name: "anomaly_map", dims: [1, 1, 4, 4], values: map }],
    });
    const manifest = parseManifest({
      task: "anomaly",
      input: { name: "images", width: 32, height: 32 },
      preprocessing: {},
      labels: ["good", "anomaly"],
      okLabels: ["good"],
      postprocessing: { type: "anomaly", output: "anomaly_map" },
      thresholds: { default: 0.5 },
    });
    await pipeline.swap(await bundle(onnx, manifest));
    pipeline.handle(frame(await jpeg(100, 100), 0));
    await pipeline.idle();
    const unet = buildUNet();
    await pipeline.swap(await bundle(unet.onnx, unet.manifest));
    pipeline.handle(frame(await jpeg(320, 240), 1));
    await pipeline.idle();

    const [a, u] = events();
    expect(a).toMatchObject({ media: true, result: { task: "anomaly", label: "anomaly", finding: true } });
    expect(a?.result.task === "anomaly" && a.result.score).toBeCloseTo(0.9, 5);
    expect(a && "rules" in a).toBe(false);
    expect(u?.result.task).toBe("segmentation");
    expect(u?.frame).toMatchObject({ width: 320, height: 240 });
    expect([a, u].every((e) => validEvent.check(e))).toBe(true);
  });

  it("decodes frame i+1 while frame i is inferred, and stores events in frame order", async () => {
    const { onnx, manifest } = buildBlemishModel();
    const inner = await Inferencer.create(onnx, manifest);
    const log: string[] = [];
    // inference held 30 ms so the overlap is certain, not a scheduling accident
    const model: InferenceModel = {
      prepare: async (image) => {
        log.push("prepare");
        return inner.prepare(image);
      },
      run: async (p) => {
        log.push("run");
        const out = await inner.run(p as Awaited<ReturnType<Inferencer["prepare"]>>);
        await new Promise((r) => setTimeout(r, 30));
        log.push("ran");
        return out;
      },
      infer: (i) => inner.infer(i),
      warmup: () => inner.warmup(),
      close: () => inner.close(),
    };
    await pipeline.swap({ model, bundle: { sha256: "d".repeat(64), modelVersionId: "m" }, manifest });
    const images = await Promise.all(Array.from({ length: 6 }, (_, i) => jpeg(320, 240, i * 10)));
    for (const [i, img] of images.entries()) pipeline.handle(frame(img, i));
    await pipeline.idle();
    expect(events().map((e) => e.frame.meta.i)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    // the second prepare happened before the first inference finished
    expect(log.indexOf("prepare", 1)).toBeLessThan(log.indexOf("ran"));
    expect(pipeline.stats()).toMatchObject({ framesInferred: 6, framesDropped: 0, framesFailed: 0 });
  });
});

describe("supervision of the inference session (injected loader)", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  /** A real blemish session whose run throws like a crashed ORT session while `crashing()` says so. */
  async function flaky(crashing: () => boolean, loads: { n: number }): Promise<InferenceModel> {
    const { onnx, manifest } = buildBlemishModel();
    const inner = await Inferencer.create(onnx, manifest);
    loads.n++;
    return {
      prepare: (image) => inner.prepare(image),
      run: async (p) => {
        if (crashing()) throw new Error("onnxruntime: session crashed (simulated)");
        return inner.run(p as Awaited<ReturnType<Inferencer["prepare"]>>);
      },
      infer: (i) => inner.infer(i),
      warmup: () => inner.warmup(),
      close: () => inner.close(),
    };
  }

  it("restarts a crashed session with backoff, skips frames meanwhile, and inspects again", async () => {
    const db = openAgentDb(dir.path);
    const outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    const pipeline = new Pipeline({ id: "default", deviceId: "cam-1", outbox, logger: quiet });
    const loads = { n: 0 };
    let crash = false;
    const policy = { maxRestarts: 3, windowMs: 60_000, backoffMs: 50, backoffMaxMs: 200, failedRetryMs: 60_000 };
    const model = new SupervisedModel(await flaky(() => crash, loads), () => flaky(() => false, loads), policy, quiet);
    const states: string[] = [];
    model.on("state", (s) => states.push(s));
    const { manifest } = buildBlemishModel();
    await pipeline.swap({ model, bundle: { sha256: "e".repeat(64), modelVersionId: "m" }, manifest });
    const image = await jpeg(320, 240);
    const send = async (i: number) => {
      pipeline.handle({ sourceId: "cam", capturedAt: new Date(), image, meta: { i } });
      await pipeline.idle();
    };

    await send(0);
    crash = true;
    await send(1); // the session dies under this frame
    expect(model.ready).toBe(false);
    expect(pipeline.intake()).toBe("unloaded");
    await send(2); // arrives during the backoff: skipped, not failed
    await waitFor("the session to come back", () => model.ready, { timeoutMs: 5000 });
    await send(3);

    expect(pipeline.stats()).toMatchObject({ framesInferred: 2, framesFailed: 1, framesSkipped: 1 });
    expect(outbox.peek(0, 10).map((r) => JSON.parse(r.payload).frame.meta.i)).toEqual([0, 3]);
    expect(loads.n).toBe(2);
    expect(model.restarts).toBe(1);
    expect(model.lastError?.code).toBe("KENSA_ERR_INFERENCE_SESSION_FAILED");
    expect(states).toEqual(["backoff", "starting", "running"]);
    await pipeline.swap(null);
    expect(model.state).toBe("stopped");
    db.close();
  });

  it("a session that keeps crashing exhausts its budget and is reported failed; a bad image never restarts it", async () => {
    const loads = { n: 0 };
    const policy = { maxRestarts: 2, windowMs: 60_000, backoffMs: 10, backoffMaxMs: 20, failedRetryMs: 60_000 };
    const model = new SupervisedModel(await flaky(() => true, loads), () => flaky(() => true, loads), policy, quiet);
    const image = await jpeg(64, 64);
    await expect(model.infer(Buffer.from("not an image"))).rejects.toMatchObject({ code: "KENSA_ERR_MEDIA_INVALID" });
    expect(model.restarts).toBe(0);
    for (let i = 0; i < 3; i++) {
      await waitFor("a live session", () => model.ready, { timeoutMs: 5000 });
      await expect(model.infer(image)).rejects.toMatchObject({ code: "KENSA_ERR_INFERENCE_SESSION_FAILED" });
    }
    await waitFor("failed over budget", () => model.state === "failed");
    expect(model.lastError?.code).toBe("KENSA_ERR_INFERENCE_RESTART_BUDGET_EXHAUSTED");
    await model.close();
  });
});
