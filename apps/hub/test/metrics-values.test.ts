import { createHash } from "node:crypto";
import { type GateReport, type LabelContent, type ModelDetails, parseManifest } from "@kensa/contracts";
import { buildFixedOutputModel, buildYoloV8Model } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "../../cli/test/run-kensa.js";
import type { BlobStore } from "../src/blobstore/blob-store.js";
import { classificationEvaluator } from "../src/registry/evaluation/evaluators/classification-evaluator.js";
import { detectionEvaluator } from "../src/registry/evaluation/evaluators/detection-evaluator.js";
import { segmentationEvaluator } from "../src/registry/evaluation/evaluators/segmentation-evaluator.js";
import { headlineKeys } from "../src/registry/evaluation/headline-values.js";
import type { EvalContext, EvalItem } from "../src/registry/evaluation/task-evaluator.js";
import { startHub, type TestHub } from "./helpers.js";
import { brightnessModel, greyImage, uploadModel } from "./registry-gate-models.js";
import { waitForGate } from "./training-fixtures.js";

type Box = { x: number; y: number; w: number; h: number };

/** 64×64 grey images with the given truth, in an in-memory blob store */
async function testSet(truths: Array<Array<{ label: string; box: Box }>>) {
  const blobs = new Map<string, Uint8Array>();
  const items: EvalItem[] = [];
  for (const [i, objects] of truths.entries()) {
    const png = await greyPng(i);
    const sha256 = createHash("sha256").update(png).digest("hex");
    blobs.set(sha256, png);
    const content: LabelContent = { classes: [...new Set(objects.map((o) => o.label))], objects, anomaly: null };
    items.push({ sampleId: `smp_${i}`, image: { sha256, width: 64, height: 64 }, label: { content } });
  }
  return { items, blobs: { get: async (sha: string) => blobs.get(sha) ?? null } as unknown as BlobStore };
}

const greyPng = (i: number) =>
  sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 20 + i, g: 20 + i, b: 20 + i } } })
    .png()
    .toBuffer();

const ctx = (manifest: EvalContext["manifest"], set: Awaited<ReturnType<typeof testSet>>): EvalContext => ({
  manifest,
  items: set.items,
  okLabels: manifest.okLabels,
  blobs: set.blobs,
  threads: 1,
});

/** two scratches found (one loosely boxed), one dent missed: mAP@0.5 well above mAP@0.5:0.95 */
const detector = {
  onnx: buildYoloV8Model({
    width: 64,
    height: 64,
    candidates: [
      { cx: 16, cy: 16, w: 16, h: 16, scores: [0.9, 0] },
      { cx: 48, cy: 48, w: 20, h: 14, scores: [0.8, 0] },
      { cx: 16, cy: 48, w: 16, h: 16, scores: [0, 0.2] },
    ],
  }),
  manifest: parseManifest({
    task: "detection",
    input: { name: "images", width: 64, height: 64 },
    preprocessing: { resize: "stretch" },
    labels: ["scratch", "dent"],
    postprocessing: { type: "detection", layout: "yolov8" },
    thresholds: { default: 0.5 },
  }),
};
const detectionTruth = [
  [{ label: "scratch", box: { x: 8, y: 8, w: 16, h: 16 } }],
  [
    { label: "scratch", box: { x: 40, y: 40, w: 16, h: 16 } },
    { label: "dent", box: { x: 40, y: 4, w: 12, h: 12 } },
  ],
];

describe("metrics.values holds every headline metric of the task (real ONNX Runtime)", () => {
  it("detection: mAP@0.5 and mAP@0.5:0.95", async () => {
    const m = await detectionEvaluator.evaluate(detector.onnx, ctx(detector.manifest, await testSet(detectionTruth)));
    expect(Object.keys(m.values)).toEqual([...headlineKeys.detection]);
    expect(m.values.map50).toBe(m.detection!.map50);
    expect(m.values.map50_95).toBe(m.detection!.map50_95);
    // the loose box passes IoU 0.5 but not the stricter thresholds
    expect(m.values.map50_95).toBeGreaterThan(0);
    expect(m.values.map50_95).toBeLessThan(m.values.map50! - 0.05);
  });

  it("segmentation: mean IoU, mean Dice, defect IoU and Dice, pixel AUROC", async () => {
    // 8×8 output, 3 labels: crack wins the left half, dent the top-right quarter
    const values = new Float32Array(3 * 64);
    for (let i = 0; i < 64; i++) {
      const left = i % 8 < 4;
      const top = i < 32;
      const k = left ? 1 : top ? 2 : 0;
      for (let c = 0; c < 3; c++) values[c * 64 + i] = c === k ? 3 : 0;
    }
    const onnx = buildFixedOutputModel({
      width: 64,
      height: 64,
      outputs: [{ name: "mask", dims: [1, 3, 8, 8], values }],
    });
    const manifest = parseManifest({
      task: "segmentation",
      input: { name: "images", width: 64, height: 64 },
      preprocessing: {},
      labels: ["background", "crack", "dent"],
      okLabels: ["background"],
      postprocessing: { type: "segmentation", output: "mask" },
      thresholds: { default: 0.5 },
    });
    const set = await testSet([[{ label: "crack", box: { x: 0, y: 0, w: 32, h: 64 } }], []]);
    const m = await segmentationEvaluator.evaluate(onnx, ctx(manifest, set));
    expect(Object.keys(m.values)).toEqual([...headlineKeys.segmentation]);
    const s = m.segmentation!;
    // crack: right on image 1's left half (32 cells), predicted on image 2's where it is absent → IoU 32/64
    expect(s.perClass.crack!.iou).toBeCloseTo(0.5, 10);
    // dent: predicted 2 × 16 cells, never true → IoU 0, Dice 0; both count in the means
    expect(s.perClass.dent!.iou).toBe(0);
    expect(m.values.miou).toBeCloseTo(0.25, 10);
    expect(m.values.mdice).toBeCloseTo((s.perClass.crack!.dice + 0) / 2, 10);
    expect(m.values.mdice).toBeCloseTo(1 / 3, 10); // crack Dice 2·32 / (32 + 64)
    expect(m.values.defect_iou).toBe(s.defect.iou);
    expect(m.values.defect_dice).toBe(s.defect.dice);
    expect(m.values.auroc).toBe(s.pixelAuroc);
  });

  it("classification: accuracy, balanced accuracy, macro-F1, AUROC", async () => {
    const model = brightnessModel(0.5);
    const levels = [
      { level: 40, defect: false },
      { level: 60, defect: false },
      { level: 80, defect: false },
      { level: 150, defect: false }, // called defect: wrong
      { level: 200, defect: true },
    ];
    const blobs = new Map<string, Uint8Array>();
    const items: EvalItem[] = [];
    for (const [i, im] of levels.entries()) {
      const { png } = await greyImage(im.level, i);
      const sha256 = createHash("sha256").update(png).digest("hex");
      blobs.set(sha256, png);
      const content: LabelContent = { classes: [im.defect ? "defect" : "ok"], objects: [], anomaly: null };
      items.push({ sampleId: `c${i}`, image: { sha256, width: 16, height: 16 }, label: { content } });
    }
    const m = await classificationEvaluator.evaluate(model.onnx, {
      manifest: model.manifest,
      items,
      okLabels: ["ok"],
      blobs: { get: async (sha: string) => blobs.get(sha) ?? null } as unknown as BlobStore,
      threads: 1,
    });
    expect(Object.keys(m.values)).toEqual([...headlineKeys.classification]);
    expect(m.values.accuracy).toBeCloseTo(4 / 5, 10);
    // recall ok 3/4, defect 1/1
    expect(m.values.balanced_accuracy).toBeCloseTo((3 / 4 + 1) / 2, 10);
    expect(m.values.f1_macro).toBe(m.classification!.f1Macro);
  });
});

/** Through a hub: the detector's mAP@0.5:0.95 reaches the card and `kensa model show`. */
describe("detection headline metrics in the card and kensa model show", () => {
  let t: TestHub;

  beforeAll(async () => {
    t = await startHub();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it("shows mAP@0.5 and mAP@0.5:0.95 everywhere", async () => {
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: { slug: "det-values", name: "det-values", task: "detection", labels: ["scratch", "dent"], okLabels: [] },
    });
    expect(p.status, JSON.stringify(p.json)).toBe(201);
    for (const [i, objects] of detectionTruth.entries()) {
      const up = await t.call<{ id: string }>("POST", `/api/v1/projects/${p.json.id}/samples?source=synthetic`, {
        raw: await greyPng(i),
        headers: { "content-type": "image/png" },
      });
      expect(up.status, JSON.stringify(up.json)).toBe(201);
      const classes = [...new Set(objects.map((o) => o.label))];
      const l = await t.call("POST", `/api/v1/samples/${up.json.id}/labels`, {
        body: { by: "qa", status: "reviewed", content: { classes, objects } },
      });
      expect(l.status, JSON.stringify(l.json)).toBe(201);
    }
    const snap = await t.call<{ id: string }>("POST", `/api/v1/projects/${p.json.id}/snapshots`, {
      body: { ratios: { train: 0, val: 0, test: 1 }, by: "qa" },
    });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    await t.call("PUT", `/api/v1/projects/${p.json.id}/training-settings`, {
      body: { evaluationSnapshotId: snap.json.id },
    });
    const model = await uploadModel(t.call, p.json.id, detector, "detector");
    expect((await t.call("POST", `/api/v1/models/${model.id}/gate`, { body: {} })).status).toBe(202);
    const gate: GateReport = await waitForGate(t.call, model.id);
    expect(gate.snapshotId).toBe(snap.json.id);
    const details = (await t.call<ModelDetails>("GET", `/api/v1/models/${model.id}/details`)).json;
    const values = details.evaluations.find((e) => e.metrics)!.metrics!.values;
    expect(Object.keys(values)).toEqual(["map50", "map50_95"]);

    const card = await t.call<string>("GET", `/api/v1/models/${model.id}/card`);
    expect(card.json).toContain(`| mAP@0.5 (\`map50\`) | ${values.map50!.toFixed(3)} |`);
    expect(card.json).toContain(`| mAP@0.5:0.95 (\`map50_95\`) | ${values.map50_95!.toFixed(3)} |`);

    const env = { KENSA_HUB_URL: t.httpUrl, KENSA_ADMIN_TOKEN: t.hub.adminToken };
    const shown = await kensa(env, "model", "show", model.id);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`map50 ${values.map50!.toFixed(3)}, map50_95 ${values.map50_95!.toFixed(3)}`);
  }, 90_000);
});
