import { createHash } from "node:crypto";
import { type LabelContent, parseManifest } from "@kensa/contracts";
import { buildFixedOutputModel, buildYoloV8Model } from "@kensa/vision/graph";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { BlobStore } from "../src/blobstore/blob-store.js";
import { detectionEvaluator } from "../src/registry/evaluation/evaluators/detection-evaluator.js";
import { segmentationEvaluator } from "../src/registry/evaluation/evaluators/segmentation-evaluator.js";
import { scorerFor } from "../src/registry/evaluation/outcome-metrics.js";
import type { EvalContext, EvalItem, TaskEvaluator } from "../src/registry/evaluation/task-evaluator.js";

type Box = { x: number; y: number; w: number; h: number };

/** 64×64 grey images (each its own level) with the given boxes as truth, in an in-memory blob store */
async function testSet(truths: Array<Array<{ label: string; box: Box }>>) {
  const blobs = new Map<string, Uint8Array>();
  const items: EvalItem[] = [];
  for (const [i, objects] of truths.entries()) {
    const png = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 20 + i, g: 20 + i, b: 20 + i } },
    })
      .png()
      .toBuffer();
    const sha256 = createHash("sha256").update(png).digest("hex");
    blobs.set(sha256, png);
    const content: LabelContent = { classes: [...new Set(objects.map((o) => o.label))], objects, anomaly: null };
    items.push({ sampleId: `smp_${i}`, image: { sha256, width: 64, height: 64 }, label: { content } });
  }
  const store = { get: async (sha: string) => blobs.get(sha) ?? null } as unknown as BlobStore;
  return { items, store };
}

/**
 * The evaluator's own metric, recomputed from the outcomes it stored, equals the metric; and
 * weights recompute what the evaluator measures on a test set where those samples repeat.
 */
async function check(
  evaluator: TaskEvaluator,
  onnx: Uint8Array,
  manifest: EvalContext["manifest"],
  set: Awaited<ReturnType<typeof testSet>>,
  metric: string,
  weights: number[],
) {
  const ctx = (items: EvalItem[]): EvalContext => ({
    manifest,
    items,
    okLabels: manifest.okLabels,
    blobs: set.store,
    threads: 1,
  });
  const m = await evaluator.evaluate(onnx, ctx(set.items));
  expect(m.outcomes?.sampleIds).toEqual(set.items.map((i) => i.sampleId));
  const scorer = scorerFor(m.outcomes!, metric)!;
  expect(scorer.score(set.items.map(() => 1))).toBeCloseTo(m.values[metric]!, 10);
  const repeated = set.items.flatMap((it, i) => Array.from({ length: weights[i]! }, () => it));
  const mw = await evaluator.evaluate(onnx, ctx(repeated));
  expect(scorer.score(weights)).toBeCloseTo(mw.values[metric]!, 10);
  return m;
}

describe("per-sample outcomes kept by the evaluators (real ONNX Runtime)", () => {
  it("detection: mAP@0.5 from each image's matched and unmatched boxes", async () => {
    const onnx = buildYoloV8Model({
      width: 64,
      height: 64,
      candidates: [
        { cx: 16, cy: 16, w: 16, h: 16, scores: [0.9, 0] },
        { cx: 48, cy: 48, w: 16, h: 16, scores: [0, 0.7] },
        { cx: 16, cy: 48, w: 16, h: 16, scores: [0.3, 0] },
      ],
    });
    const manifest = parseManifest({
      task: "detection",
      input: { name: "images", width: 64, height: 64 },
      preprocessing: { resize: "stretch" },
      labels: ["scratch", "dent"],
      postprocessing: { type: "detection", layout: "yolov8" },
      thresholds: { default: 0.5 },
    });
    const set = await testSet([
      [{ label: "scratch", box: { x: 8, y: 8, w: 16, h: 16 } }],
      [{ label: "dent", box: { x: 40, y: 40, w: 16, h: 16 } }],
      [
        { label: "scratch", box: { x: 8, y: 40, w: 16, h: 16 } },
        { label: "scratch", box: { x: 30, y: 5, w: 10, h: 10 } },
      ],
      [],
      [{ label: "dent", box: { x: 44, y: 44, w: 16, h: 16 } }],
      [{ label: "scratch", box: { x: 9, y: 9, w: 15, h: 15 } }],
    ]);
    const m = await check(detectionEvaluator, onnx, manifest, set, "map50", [2, 0, 1, 1, 3, 1]);
    expect(m.values.map50).toBeGreaterThan(0);
    expect(m.values.map50).toBeLessThan(1);
  });

  it("segmentation: mIoU from each image's pixel confusion", async () => {
    // crack (channel 1) wins on the left half of the 8×8 output
    const values = new Float32Array(2 * 64);
    for (let i = 0; i < 64; i++) {
      const left = i % 8 < 4;
      values[i] = left ? 0 : 3;
      values[64 + i] = left ? 3 : 0;
    }
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
    });
    const set = await testSet([
      [{ label: "crack", box: { x: 0, y: 0, w: 32, h: 64 } }],
      [{ label: "crack", box: { x: 32, y: 0, w: 32, h: 32 } }],
      [],
      [{ label: "crack", box: { x: 8, y: 8, w: 16, h: 16 } }],
    ]);
    const m = await check(segmentationEvaluator, onnx, manifest, set, "miou", [1, 3, 0, 2]);
    expect(m.values.miou).toBeGreaterThan(0);
    expect(m.values.miou).toBeLessThan(1);
  });
});
