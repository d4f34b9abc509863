import { join } from "node:path";
import {
  compile,
  type Event,
  type InferenceResult,
  type ModelManifest,
  OTHER_LABEL,
  parseManifest,
  ShadowAgreement,
} from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { buildFixedOutputModel, buildYoloV8Model } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LoadedBundle } from "../src/inference/model.js";
import { Pipeline } from "../src/inference/pipeline.js";
import { boxIou, frameIou, ShadowAgreementCounter } from "../src/inference/shadow-agreement.js";
import { Logger } from "../src/logger.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { Outbox } from "../src/storage/outbox.js";

const validAgreement = compile(ShadowAgreement);
const quiet = new Logger("error", {}, () => undefined);
const sha = (c: string) => c.repeat(64);
const pairAB = {
  bundle: { sha256: sha("a"), modelVersionId: "mv-a" },
  shadow: { sha256: sha("b"), modelVersionId: "mv-b" },
};

/** a two-class result: the other class gets the rest of the probability */
const cls = (label: string, score: number, finding = label !== "ok"): InferenceResult => ({
  task: "classification",
  label,
  score,
  scores: { [label]: score, [label === "ok" ? "defect" : "ok"]: 1 - score },
  finding,
});
const det = (...boxes: Array<[string, number, [number, number, number, number]]>): InferenceResult => ({
  task: "detection",
  detections: boxes.map(([label, score, box]) => ({ label, score, box })),
  finding: boxes.length > 0,
});
const seg = (...regions: Array<[string, number, [number, number, number, number]]>): InferenceResult => ({
  task: "segmentation",
  regions: regions.map(([label, score, box]) => ({ label, score, box, area: box[2] * box[3], maskArea: 1 })),
  finding: regions.length > 0,
});

describe("shadow agreement counter", () => {
  it("classification: verdict and headline label, per champion label, score delta mean and p95", () => {
    const c = new ShadowAgreementCounter({ now: () => new Date("2026-01-01T00:00:00Z") });
    expect(c.report()).toBeUndefined();
    // 20 frames: 17 agree (ok/ok, delta 0.1), 2 disagree on the label (defect 0.9 vs ok 0.7:
    // the shadow's defect score is 0.3, delta 0.6), 1 same label but another verdict (delta 0.3)
    for (let i = 0; i < 17; i++) c.record(pairAB, cls("ok", 0.9), cls("ok", 0.8));
    for (let i = 0; i < 2; i++) c.record(pairAB, cls("defect", 0.9), cls("ok", 0.7), i === 0);
    c.record(pairAB, cls("defect", 0.7, true), cls("defect", 0.4, false));
    const r = c.report();
    expect(validAgreement.check(r)).toBe(true);
    expect(r).toMatchObject({
      bundleModelVersionId: "mv-a",
      shadowModelVersionId: "mv-b",
      bundleSha256: sha("a"),
      shadowSha256: sha("b"),
      since: "2026-01-01T00:00:00.000Z",
      frames: 20,
      agree: 17,
      byLabel: { ok: { frames: 17, agree: 17 }, defect: { frames: 3, agree: 0 } },
      captures: 1,
    });
    expect(r?.iou).toBeUndefined();
    expect(r?.scoreDelta.mean).toBeCloseTo((17 * 0.1 + 2 * 0.6 + 0.3) / 20, 3);
    // 19 of 20 frames (95%) at or below 0.6: the p95 is 0.6, not the 0.3 of the frame below
    expect(r?.scoreDelta.p95).toBeCloseTo(0.6, 3);
  });

  it("detection: boxes matched greedily per label; a missing box counts 0 and a missing headline scores 0", () => {
    expect(boxIou([0, 0, 10, 10], [5, 0, 10, 10])).toBeCloseTo(1 / 3, 6);
    expect(boxIou([0, 0, 10, 10], [20, 20, 5, 5])).toBe(0);
    // same label, overlapping: 1/3; a second bundle box the shadow lacks counts 0 → (1/3 + 0) / 2
    expect(
      frameIou(
        det(["scratch", 0.9, [0, 0, 10, 10]], ["dent", 0.8, [50, 50, 10, 10]]),
        det(["scratch", 0.7, [5, 0, 10, 10]]),
      ),
    ).toBeCloseTo(1 / 6, 6);
    // an overlapping box of another label is no match
    expect(frameIou(det(["scratch", 0.9, [0, 0, 10, 10]]), det(["dent", 0.9, [0, 0, 10, 10]]))).toBe(0);
    // greedy: the best overlap is taken first, the other box gets what is left
    expect(
      frameIou(
        det(["s", 0.9, [0, 0, 10, 10]], ["s", 0.9, [4, 0, 10, 10]]),
        det(["s", 0.9, [0, 0, 10, 10]], ["s", 0.9, [5, 0, 10, 10]]),
      ),
    ).toBeCloseTo((1 + boxIou([4, 0, 10, 10], [5, 0, 10, 10])) / 2, 6);
    expect(frameIou(det(), det())).toBeNull();
    expect(frameIou(cls("ok", 1), cls("ok", 1))).toBeNull();

    const c = new ShadowAgreementCounter();
    c.record(pairAB, det(["scratch", 0.9, [0, 0, 10, 10]]), det(["scratch", 0.6, [5, 0, 10, 10]]));
    c.record(pairAB, det(), det()); // both see nothing: they agree, no IoU frame
    c.record(pairAB, det(), det(["scratch", 0.8, [0, 0, 10, 10]])); // the shadow alone sees a box
    const r = c.report();
    expect(r).toMatchObject({
      frames: 3,
      agree: 2,
      byLabel: { scratch: { frames: 1, agree: 1 }, "(none)": { frames: 2, agree: 1 } },
      iou: { n: 2 },
    });
    expect(r?.iou?.mean).toBeCloseTo((1 / 3 + 0) / 2, 3);
    expect(r?.scoreDelta.mean).toBeCloseTo((0.3 + 0 + 0.8) / 3, 3);
  });

  it("segmentation: region boxes stand in for masks", () => {
    const c = new ShadowAgreementCounter();
    c.record(pairAB, seg(["crack", 0.9, [0, 0, 20, 20]]), seg(["crack", 0.9, [0, 0, 20, 10]]));
    c.record(pairAB, seg(["crack", 0.9, [0, 0, 20, 20]]), seg());
    const r = c.report();
    expect(r).toMatchObject({ frames: 2, agree: 1, iou: { n: 2 } });
    expect(r?.iou?.mean).toBeCloseTo((0.5 + 0) / 2, 3);
  });

  it("restarts when either model changes, and keeps the pair it counts", () => {
    let t = Date.parse("2026-01-01T00:00:00Z");
    const c = new ShadowAgreementCounter({ now: () => new Date(t) });
    for (let i = 0; i < 5; i++) c.record(pairAB, cls("ok", 0.9), cls("ok", 0.9));
    const v = c.version;
    expect(c.report()).toMatchObject({ frames: 5, agree: 5, since: "2026-01-01T00:00:00.000Z" });
    t += 60_000;
    const newShadow = { ...pairAB, shadow: { sha256: sha("c"), modelVersionId: "mv-c" } };
    c.record(newShadow, cls("ok", 0.9), cls("defect", 0.9));
    expect(c.version).toBeGreaterThan(v);
    expect(c.report()).toMatchObject({
      shadowModelVersionId: "mv-c",
      frames: 1,
      agree: 0,
      since: "2026-01-01T00:01:00.000Z",
      byLabel: { ok: { frames: 1, agree: 0 } },
    });
    // a new bundle (same model version, rebuilt bundle) is a new pair too
    t += 60_000;
    const rebuilt = { ...newShadow, bundle: { sha256: sha("d"), modelVersionId: "mv-a" } };
    c.record(rebuilt, cls("ok", 0.9), cls("ok", 0.9));
    expect(c.report()).toMatchObject({ bundleSha256: sha("d"), frames: 1, agree: 1 });
    c.reset();
    expect(c.report()).toBeUndefined();
  });

  it("holds at most the label bound, folding the rest into (other)", () => {
    const c = new ShadowAgreementCounter({ maxLabels: 4 });
    for (let i = 0; i < 10; i++) c.record(pairAB, cls(`l${i}`, 0.9), cls(`l${i}`, 0.9));
    c.record(pairAB, cls("x".repeat(300), 0.9), cls("y", 0.9));
    const r = c.report();
    expect(Object.keys(r?.byLabel ?? {})).toEqual(["l0", "l1", "l2", OTHER_LABEL]);
    expect(r?.byLabel[OTHER_LABEL]).toEqual({ frames: 8, agree: 7 });
    expect(validAgreement.check(r)).toBe(true);
  });
});

describe("shadow agreement through the real pipeline", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: ReturnType<typeof openAgentDb>;
  let outbox: Outbox;
  let pipeline: Pipeline;
  const events = () => outbox.peek(0, 10_000).map((r) => JSON.parse(r.payload) as Event);
  const jpeg = (w: number, h: number) =>
    sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .jpeg()
      .toBuffer();
  const loaded = async (onnx: Uint8Array, manifest: ModelManifest, id: string, c: string): Promise<LoadedBundle> => ({
    model: await Inferencer.create(onnx, manifest),
    bundle: { sha256: sha(c), modelVersionId: id },
    manifest,
  });
  const run = async (image: Uint8Array, n: number) => {
    for (let i = 0; i < n; i++)
      pipeline.handle({ sourceId: "cam", capturedAt: new Date(), image, meta: { i }, queue: true });
    await pipeline.idle();
  };

  beforeEach(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
    outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    pipeline = new Pipeline({ id: "default", deviceId: "cam-1", outbox, logger: quiet });
  });
  afterEach(async () => {
    await pipeline.idle();
    await pipeline.swap(null);
    await pipeline.setShadow(null);
    db.close();
    await dir.remove();
  });

  const detection = parseManifest({
    task: "detection",
    input: { name: "images", width: 640, height: 640 },
    preprocessing: { resize: "stretch" },
    labels: ["person", "helmet"],
    postprocessing: { type: "detection", layout: "yolov8" },
    thresholds: { default: 0.5 },
  });

  it("detection: two YOLO models a box apart give IoU 1/3 on every frame, and the bundle's events only", async () => {
    const champion = buildYoloV8Model({
      width: 640,
      height: 640,
      candidates: [{ cx: 160, cy: 320, w: 100, h: 300, scores: [0.9, 0] }],
    });
    // the same person 50 px to the right, less sure: [160,170,100,300] against [110,170,100,300]
    const challenger = buildYoloV8Model({
      width: 640,
      height: 640,
      candidates: [{ cx: 210, cy: 320, w: 100, h: 300, scores: [0.7, 0] }],
    });
    await pipeline.swap(await loaded(champion, detection, "mv-champ", "a"));
    await pipeline.setShadow(await loaded(challenger, detection, "mv-chall", "b"));
    await run(await jpeg(640, 640), 4);
    const r = pipeline.shadowAgreement();
    expect(validAgreement.check(r)).toBe(true);
    expect(r).toMatchObject({
      bundleModelVersionId: "mv-champ",
      shadowModelVersionId: "mv-chall",
      frames: 4,
      agree: 4,
      byLabel: { person: { frames: 4, agree: 4 } },
      iou: { n: 4 },
      captures: 0,
    });
    expect(r?.iou?.mean).toBeCloseTo(1 / 3, 3);
    expect(r?.scoreDelta.mean).toBeCloseTo(0.2, 2);
    // the events carry the bundle's boxes, never the shadow's
    const evs = events();
    expect(evs).toHaveLength(4);
    for (const e of evs) {
      expect(e.bundle.modelVersionId).toBe("mv-champ");
      expect(e.result.task === "detection" && e.result.detections.map((d) => d.box)).toEqual([[110, 170, 100, 300]]);
    }
  });

  it("segmentation: two fixed masks a mask pixel apart give region-box IoU 1/3", async () => {
    // an 8×8 mask for a 64×64 input on 320×320 frames: one mask px is 40×40 frame px
    const mask = (x: number) => {
      const values = new Float32Array(2 * 64).fill(2, 0, 64);
      for (const [yy, xx] of [
        [2, x],
        [2, x + 1],
        [3, x],
        [3, x + 1],
      ] as const)
        values[64 + yy * 8 + xx] = 5;
      return buildFixedOutputModel({ width: 64, height: 64, outputs: [{ name: "mask", dims: [1, 2, 8, 8], values }] });
    };
    const manifest = parseManifest({
      task: "segmentation",
      input: { name: "images", width: 64, height: 64 },
      preprocessing: {},
      labels: ["background", "crack"],
      okLabels: ["background"],
      postprocessing: { type: "segmentation", output: "mask" },
      thresholds: { default: 0.5 },
    });
    // boxes [160,80,80,80] and [200,80,80,80]: 40×80 in common over 9600 px²
    await pipeline.swap(await loaded(mask(4), manifest, "mv-seg-a", "a"));
    await pipeline.setShadow(await loaded(mask(5), manifest, "mv-seg-b", "b"));
    await run(await jpeg(320, 320), 2);
    const r = pipeline.shadowAgreement();
    expect(r).toMatchObject({ frames: 2, agree: 2, byLabel: { crack: { frames: 2, agree: 2 } }, iou: { n: 2 } });
    expect(r?.iou?.mean).toBeCloseTo(1 / 3, 3);
    expect(r?.scoreDelta).toEqual({ mean: 0, p95: 0 });
  });

  it("a shadow that flags every frame raises nothing: the events keep the bundle's verdict", async () => {
    const manifest = parseManifest({
      task: "classification",
      input: { name: "images", width: 32, height: 32 },
      preprocessing: {},
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      postprocessing: { type: "classification" },
      thresholds: { default: 0.5 },
    });
    const fixed = (values: number[]) =>
      buildFixedOutputModel({ width: 32, height: 32, outputs: [{ name: "logits", dims: [1, 2], values }] });
    await pipeline.swap(await loaded(fixed([8, 0]), manifest, "mv-ok", "a"));
    await pipeline.setShadow(await loaded(fixed([0, 8]), manifest, "mv-alarm", "b"));
    await run(await jpeg(64, 64), 5);
    const evs = events();
    expect(evs).toHaveLength(5);
    expect(evs.every((e) => !e.result.finding && e.result.task === "classification" && e.result.label === "ok")).toBe(
      true,
    );
    expect(evs.every((e) => !e.media)).toBe(true);
    expect(pipeline.shadowAgreement()).toMatchObject({ frames: 5, agree: 0, byLabel: { ok: { frames: 5, agree: 0 } } });
    expect(pipeline.shadowAgreement()?.scoreDelta.p95).toBeGreaterThan(0.99);

    // a new shadow: the counters restart for the new pair
    const before = pipeline.shadowAgreement()?.since ?? "";
    await new Promise((r) => setTimeout(r, 5));
    await pipeline.setShadow(await loaded(fixed([8, 0]), manifest, "mv-twin", "c"));
    await run(await jpeg(64, 64), 3);
    const after = pipeline.shadowAgreement();
    expect(after).toMatchObject({ shadowModelVersionId: "mv-twin", frames: 3, agree: 3 });
    expect(after?.scoreDelta).toEqual({ mean: 0, p95: 0 });
    expect(Date.parse(after?.since ?? "")).toBeGreaterThan(Date.parse(before));
  });
});
