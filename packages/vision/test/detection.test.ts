import { compile, InferenceResult, type ModelManifest, parseManifest } from "@kensa/contracts";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFixedOutputModel, buildYoloV8Model } from "../src/graph/index.js";
import { checkModelAgainstManifest, Inferencer, intersectionOverUnion, nonMaxSuppression } from "../src/index.js";

const validResult = compile(InferenceResult);

/** A plain image of the given size: content does not matter to fixed-output models. */
function image(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 150 } } })
    .jpeg()
    .toBuffer();
}

function detectionManifest(post: Record<string, unknown>, o: Partial<Record<string, unknown>> = {}): ModelManifest {
  return parseManifest({
    task: "detection",
    input: { name: "images", width: 640, height: 640 },
    preprocessing: { resize: "letterbox" },
    labels: ["scratch", "dent"],
    postprocessing: { type: "detection", ...post },
    thresholds: { default: 0.5 },
    ...o,
  });
}

/**
 * Candidates in 640×640 letterbox input px. A 1280×720 frame scales by 0.5 to 640×360 and sits
 * 140 px below the top, so original = ((x, y) − (0, 140)) / 0.5. Hand-computed outcome with
 * minScore 0.25 and IoU 0.45:
 * A scratch .9 (160,220)-(240,260) → kept, original [320,160,160,80]
 * B scratch .8 shifted by (4,2): IoU with A = 2888 / 3512 = 0.82 → suppressed by A
 * C dent .7, A's very box → kept: NMS is per class
 * D scratch .6 shifted by 40 px: IoU with A = 1600 / 4800 = 0.33 → kept, [400,160,160,80]
 * E dent .3 → kept (≥ minScore) though under the finding threshold, [900,460,200,120]
 * F scratch .2 → under minScore
 * G dent .55 reaching into the top padding (y 110..150) → clipped to [600,0,80,20]
 */
const CANDIDATES = [
  { cx: 200, cy: 240, w: 80, h: 40, scores: [0.9, 0.05] },
  { cx: 204, cy: 242, w: 80, h: 40, scores: [0.8, 0.1] },
  { cx: 200, cy: 240, w: 80, h: 40, scores: [0.1, 0.7] },
  { cx: 240, cy: 240, w: 80, h: 40, scores: [0.6, 0] },
  { cx: 500, cy: 400, w: 100, h: 60, scores: [0.05, 0.3] },
  { cx: 600, cy: 150, w: 20, h: 20, scores: [0.2, 0.1] },
  { cx: 320, cy: 130, w: 40, h: 40, scores: [0, 0.55] },
];

const EXPECTED = [
  { label: "scratch", score: 0.9, box: [320, 160, 160, 80] },
  { label: "dent", score: 0.7, box: [320, 160, 160, 80] },
  { label: "scratch", score: 0.6, box: [400, 160, 160, 80] },
  { label: "dent", score: 0.55, box: [600, 0, 80, 20] },
  { label: "dent", score: 0.3, box: [900, 460, 200, 120] },
];

function expectDetections(actual: { label: string; score: number; box: number[] }[], expected: typeof EXPECTED) {
  expect(actual.map((d) => d.label)).toEqual(expected.map((d) => d.label));
  for (const [i, d] of actual.entries()) {
    expect(d.score).toBeCloseTo(expected[i]!.score, 5);
    for (const [k, v] of d.box.entries()) expect(v).toBeCloseTo(expected[i]!.box[k]!, 3);
  }
}

describe("detection, YOLOv8 layout [1, 4 + nc, N] (Ultralytics export)", () => {
  const onnx = buildYoloV8Model({ width: 640, height: 640, candidates: CANDIDATES });
  let frame: Buffer;
  beforeAll(async () => {
    frame = await image(1280, 720);
  });

  it("decodes, NMSes per class and maps boxes back through the letterbox", async () => {
    const manifest = detectionManifest({ layout: "yolov8" });
    await checkModelAgainstManifest(onnx, manifest);
    const inf = await Inferencer.create(onnx, manifest, { intraOpThreads: 1 });
    await inf.warmup();
    const out = await inf.infer(frame);
    await inf.close();
    expect(out.frame).toEqual({ width: 1280, height: 720 });
    expect(out.result.task).toBe("detection");
    if (out.result.task !== "detection") return;
    expectDetections(out.result.detections, EXPECTED);
    expect(out.result.finding).toBe(true);
    expect(validResult.check(out.result)).toBe(true);
  });

  it("per-class thresholds decide the finding; maxDetections and iou apply", async () => {
    const strict = detectionManifest({ layout: "yolov8" }, { thresholds: { perClass: { scratch: 0.95, dent: 0.75 } } });
    const inf = await Inferencer.create(onnx, strict, { intraOpThreads: 1 });
    const r = (await inf.infer(frame)).result;
    await inf.close();
    expect(r).toMatchObject({ task: "detection", finding: false });

    const okScratch = detectionManifest({ layout: "yolov8", maxDetections: 2 }, { okLabels: ["scratch"] });
    const two = await Inferencer.create(onnx, okScratch, { intraOpThreads: 1 });
    const r2 = (await two.infer(frame)).result;
    await two.close();
    if (r2.task !== "detection") throw new Error("not a detection");
    expectDetections(r2.detections, EXPECTED.slice(0, 2));
    expect(r2.finding).toBe(true); // dent .7 ≥ .5; scratch is OK

    // IoU 0.9 keeps B (0.82 overlap with A) as well
    const loose = await Inferencer.create(onnx, detectionManifest({ layout: "yolov8", iou: 0.9 }), {
      intraOpThreads: 1,
    });
    const r3 = (await loose.infer(frame)).result;
    await loose.close();
    if (r3.task !== "detection") throw new Error("not a detection");
    expect(r3.detections.map((d) => d.score)).toEqual([0.9, 0.8, 0.7, 0.6, 0.55, 0.3].map((s) => expect.closeTo(s, 5)));
  });

  it("rejects a manifest whose label count does not give 4 + nc rows", async () => {
    const three = detectionManifest({ layout: "yolov8" }, { labels: ["scratch", "dent", "chip"] });
    await expect(checkModelAgainstManifest(onnx, three)).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/\[1,6,7\] has 6 rows but the manifest's 3 labels need 7/),
    });
    const threeV5 = detectionManifest({ layout: "yolov5" }, { labels: ["scratch", "dent", "chip"] });
    await expect(checkModelAgainstManifest(onnx, threeV5)).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/yolov5 output is \[1, N, 5 \+ classes\]: \[1,6,7\] has 7 columns.*need 8/),
    });
  });
});

describe("detection, YOLOv5 layout [1, N, 5 + nc]", () => {
  /**
   * Stretch 320×240 → 160×160: x scales by 0.5, y by 2/3. Confidence = objectness × class:
   * r0 obj .9 × best class "dent" 1.0 = .9, box (30,30)-(50,50) → [60,45,40,30]
   * r1 obj .2 < minScore → dropped although its class score is 1
   * r2 obj .8 × "scratch" .5 = .4, box (90,60)-(130,100) → [180,90,80,60]
   * r3 obj .6 × .3 = .18 → dropped
   */
  const rows = [
    [40, 40, 20, 20, 0.9, 0.5, 1.0],
    [100, 100, 10, 10, 0.2, 1.0, 0],
    [110, 80, 40, 40, 0.8, 0.5, 0.25],
    [10, 10, 4, 4, 0.6, 0.3, 0.2],
  ];
  const onnx = buildFixedOutputModel({
    width: 160,
    height: 160,
    outputs: [{ name: "output0", dims: [1, 4, 7], values: rows.flat() }],
  });

  it("multiplies objectness into the class score and maps a stretched resize back", async () => {
    const manifest = detectionManifest(
      { layout: "yolov5" },
      { input: { name: "images", width: 160, height: 160 }, preprocessing: { resize: "stretch" } },
    );
    await checkModelAgainstManifest(onnx, manifest);
    const inf = await Inferencer.create(onnx, manifest, { intraOpThreads: 1 });
    const out = await inf.infer(await image(320, 240));
    await inf.close();
    if (out.result.task !== "detection") throw new Error("not a detection");
    expectDetections(out.result.detections, [
      { label: "dent", score: 0.9, box: [60, 45, 40, 30] },
      { label: "scratch", score: 0.4, box: [180, 90, 80, 60] },
    ]);
    expect(out.result.finding).toBe(true);
  });
});

describe("detection, box lists (torchvision: boxes [N,4] xyxy, scores [N], labels [N] int64)", () => {
  /**
   * Center-crop 400×200 → 100×100: scale 0.5 → 200×100, 50 px cut on the left, so
   * original = (x + 50, y) / 0.5. Labels are torchvision's indices with 0 = background.
   * (10,20)-(30,60) "dent" .8 → [120,40,40,80]; (12,22)-(30,60) "dent" .6 overlaps it by
   * IoU 0.855 → suppressed; (60,10)-(90,30) "scratch" .7 → [220,20,60,40]; .1 → under minScore.
   */
  const onnx = buildFixedOutputModel({
    input: "image",
    width: 100,
    height: 100,
    outputs: [
      { name: "det_boxes", dims: [4, 4], values: [10, 20, 30, 60, 12, 22, 30, 60, 60, 10, 90, 30, 0, 0, 5, 5] },
      { name: "det_scores", dims: [1, 4], values: [0.8, 0.6, 0.7, 0.1] },
      { name: "det_labels", dims: [1, 4], values: [2, 2, 1, 1], type: "int64" },
    ],
  });
  const manifest = (o: Record<string, unknown> = {}) =>
    detectionManifest(
      { layout: "boxes", outputs: { boxes: "det_boxes", scores: "det_scores", labels: "det_labels" }, ...o },
      {
        input: { name: "image", width: 100, height: 100 },
        preprocessing: { resize: "center-crop" },
        labels: ["__background__", "scratch", "dent"],
        okLabels: ["__background__"],
      },
    );

  it("reads the three named outputs, int64 labels included, and maps a centre crop back", async () => {
    await checkModelAgainstManifest(onnx, manifest());
    const inf = await Inferencer.create(onnx, manifest(), { intraOpThreads: 1 });
    const out = await inf.infer(await image(400, 200));
    await inf.close();
    if (out.result.task !== "detection") throw new Error("not a detection");
    expectDetections(out.result.detections, [
      { label: "dent", score: 0.8, box: [120, 40, 40, 80] },
      { label: "scratch", score: 0.7, box: [220, 20, 60, 40] },
    ]);
  });

  it("names a missing output, and a class index the labels lack", async () => {
    await expect(
      checkModelAgainstManifest(
        onnx,
        manifest({ outputs: { boxes: "boxes", scores: "det_scores", labels: "det_labels" } }),
      ),
    ).rejects.toMatchObject({ code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH", message: expect.stringMatching(/"boxes"/) });
    const two = detectionManifest(
      { layout: "boxes", outputs: { boxes: "det_boxes", scores: "det_scores", labels: "det_labels" } },
      { input: { name: "image", width: 100, height: 100 }, labels: ["scratch", "dent"] },
    );
    const inf = await Inferencer.create(onnx, two, { intraOpThreads: 1 });
    await expect(inf.infer(await image(100, 100))).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/class index 2 but the manifest has 2 labels/),
    });
    await inf.close();
  });
});

describe("nonMaxSuppression", () => {
  const box = (x1: number, y1: number, x2: number, y2: number, score: number, cls = 0) => ({
    x1,
    y1,
    x2,
    y2,
    score,
    cls,
  });

  it("IoU: intersection over union, 0 for disjoint or touching boxes", () => {
    expect(intersectionOverUnion(box(0, 0, 10, 10, 1), box(5, 0, 15, 10, 1))).toBeCloseTo(50 / 150, 10);
    expect(intersectionOverUnion(box(0, 0, 10, 10, 1), box(10, 0, 20, 10, 1))).toBe(0);
    expect(intersectionOverUnion(box(0, 0, 10, 10, 1), box(0, 0, 10, 10, 1))).toBe(1);
  });

  it("keeps the best of overlapping boxes per class, drops only above the IoU threshold", () => {
    const kept = nonMaxSuppression(
      [box(5, 0, 15, 10, 0.8), box(0, 0, 10, 10, 0.9), box(0, 0, 10, 10, 0.5, 1), box(20, 0, 30, 10, 0.4)],
      1 / 3,
      10,
    );
    // IoU exactly 1/3 is not above the threshold: kept
    expect(kept.map((k) => k.score)).toEqual([0.9, 0.8, 0.5, 0.4]);
    expect(nonMaxSuppression([box(5, 0, 15, 10, 0.8), box(0, 0, 10, 10, 0.9)], 0.3, 10).map((k) => k.score)).toEqual([
      0.9,
    ]);
    expect(nonMaxSuppression([box(0, 0, 1, 1, 0.1), box(5, 5, 6, 6, 0.2), box(8, 8, 9, 9, 0.3)], 0.5, 2)).toHaveLength(
      2,
    );
  });
});
