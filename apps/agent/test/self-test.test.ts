import { createHash } from "node:crypto";
import {
  type BundleManifest,
  type GoldenFrame,
  type GoldenOutput,
  goldenOutputOf,
  type ModelManifest,
} from "@kensa/contracts";
import { renderFrame } from "@kensa/synth";
import { Inferencer } from "@kensa/vision";
import { BLEMISH_PARAMS, buildBlemishGraph, buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSelfTest, selfTestError } from "../src/updates/self-test.js";
import { parityOf, toleranceBreaches } from "../src/updates/self-test-parity.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const model = buildBlemishModel();
const tolerances = { top1Agreement: 1, scoreDelta: 0.02, boxIou: 0.9, maskIou: 0.85 };

/** Golden frames of `onnx` as the hub computes them (the same Inferencer, real ONNX Runtime). */
async function goldenOf(onnx: Uint8Array, manifest: ModelManifest, images: Uint8Array[]): Promise<GoldenFrame[]> {
  const inf = await Inferencer.create(onnx, manifest, { intraOpThreads: 1 });
  try {
    const out: GoldenFrame[] = [];
    for (const [i, img] of images.entries()) {
      const r = await inf.infer(img);
      out.push({
        sha256: sha(img),
        size: img.byteLength,
        width: r.frame.width,
        height: r.frame.height,
        sampleId: `s${i}`,
        expected: goldenOutputOf(r.result),
      });
    }
    return out;
  } finally {
    await inf.close();
  }
}

const bundleWith = (frames: GoldenFrame[] | null): BundleManifest => ({
  schema: "kensa.bundle/v1",
  name: "t",
  createdAt: new Date().toISOString(),
  projectId: "p",
  modelVersionId: "m",
  model: { sha256: sha(model.onnx), size: model.onnx.byteLength, format: "onnx" },
  manifest: model.manifest,
  target: { arch: "any", precision: "fp32", runtime: "onnxruntime-node" },
  ...(frames ? { golden: { source: "snapshot" as const, snapshotId: "x", note: "test", tolerances, frames } } : {}),
});

describe("the golden-frame self-test with real ONNX Runtime", () => {
  let images: Uint8Array[];
  let frames: GoldenFrame[];
  const byHash = new Map<string, Uint8Array>();
  const fetchFrame = async (f: GoldenFrame) => byHash.get(f.sha256)!;
  const loaded: Inferencer[] = [];
  const load = async (onnx: Uint8Array) => {
    const inf = await Inferencer.create(onnx, model.manifest, { intraOpThreads: 1 });
    loaded.push(inf);
    return inf;
  };

  beforeAll(async () => {
    images = [];
    for (let i = 0; i < 6; i++) {
      const f = await renderFrame(i, { seed: 11, width: 96, height: 72, defectRate: 0.5 });
      images.push(f.jpeg);
      byHash.set(sha(f.jpeg), f.jpeg);
    }
    frames = await goldenOf(model.onnx, model.manifest, images);
  });
  afterAll(async () => {
    for (const inf of loaded) await inf.close();
  });

  it("passes the model the golden outputs came from, with exact parity", async () => {
    const r = await runSelfTest(
      await load(model.onnx),
      "a".repeat(64),
      bundleWith(frames),
      fetchFrame,
      AbortSignal.timeout(10_000),
    );
    expect(r.status).toBe("passed");
    expect(r.figures).toEqual({ frames: 6, top1Agreement: 1, maxScoreDelta: 0, meanBoxIou: null, meanMaskIou: null });
    expect(r.note).toBeUndefined();
  });

  it("fails a model with perturbed weights that still loads, with the figures", async () => {
    const perturbed = buildBlemishGraph(
      64,
      64,
      { ...BLEMISH_PARAMS, channels: BLEMISH_PARAMS.channels.map((c) => ({ ...c, gain: c.gain * 0.5 })), okBias: 2 },
      false,
    );
    const r = await runSelfTest(
      await load(perturbed),
      "b".repeat(64),
      bundleWith(frames),
      fetchFrame,
      AbortSignal.timeout(10_000),
    );
    expect(r.status).toBe("failed");
    expect(r.figures.frames).toBe(6);
    expect(r.figures.maxScoreDelta!).toBeGreaterThan(tolerances.scoreDelta);
    expect(r.note).toContain("score delta");
    const err = selfTestError(r);
    expect(err.code).toBe("KENSA_ERR_BUNDLE_SELF_TEST_FAILED");
    expect(err.message).toContain(`max score delta ${r.figures.maxScoreDelta}`);
    expect((err.details as { selfTest: unknown }).selfTest).toEqual(r);
  });

  it("skips a bundle without golden frames and says why", async () => {
    const r = await runSelfTest(
      await load(model.onnx),
      "c".repeat(64),
      bundleWith(null),
      fetchFrame,
      AbortSignal.timeout(10_000),
    );
    expect(r.status).toBe("skipped");
    expect(r.note).toContain("no golden frames");
    expect(r.figures.frames).toBe(0);
  });
});

describe("parity figures per task", () => {
  const det = (items: Array<[string, number, [number, number, number, number]]>): GoldenOutput => {
    const list = items.map(([label, score, box]) => ({ label, score, box }));
    const best = [...list].sort((a, b) => b.score - a.score)[0];
    return { top: best ? { label: best.label, score: best.score } : null, items: list };
  };

  it("detection: box IoU of matched boxes, a missing box counts 0; score delta of matched ones", () => {
    const expected = det([
      ["scratch", 0.9, [10, 10, 20, 20]],
      ["spot", 0.6, [50, 50, 10, 10]],
    ]);
    const same = parityOf("detection", [{ expected, actual: expected, width: 100, height: 100 }]);
    expect(same).toEqual({ frames: 1, top1Agreement: 1, maxScoreDelta: 0, meanBoxIou: 1, meanMaskIou: null });
    // shifted by 2 px: IoU 18*18 / (2*400 - 324); the spot is lost
    const actual = det([["scratch", 0.85, [12, 12, 20, 20]]]);
    const f = parityOf("detection", [{ expected, actual, width: 100, height: 100 }]);
    expect(f.meanBoxIou).toBeCloseTo(324 / 476 / 2, 5);
    expect(f.maxScoreDelta).toBeCloseTo(0.05, 6);
    expect(f.top1Agreement).toBe(1);
    expect(toleranceBreaches(f, tolerances)).toContain("box IoU");
  });

  it("segmentation: mask IoU from outlines, 1 when neither side has a region", () => {
    const square = (x: number): GoldenOutput => ({
      top: { label: "stain", score: 0.8 },
      items: [
        {
          label: "stain",
          score: 0.8,
          box: [x, 0, 32, 64],
          outline: [
            [x, 0],
            [x + 32, 0],
            [x + 32, 64],
            [x, 64],
          ],
        },
      ],
    });
    const half = parityOf("segmentation", [{ expected: square(0), actual: square(16), width: 64, height: 64 }]);
    // the overlap is 16 of 48 columns
    expect(half.meanMaskIou).toBeCloseTo(1 / 3, 2);
    const none = parityOf("segmentation", [
      { expected: { top: null, items: [] }, actual: { top: null, items: [] }, width: 64, height: 64 },
    ]);
    expect(none).toMatchObject({ top1Agreement: 1, meanBoxIou: 1, meanMaskIou: 1, maxScoreDelta: 0 });
  });

  it("classification: top-1 agreement and the largest per-class score delta", () => {
    const c = (ok: number): GoldenOutput => ({
      top: { label: ok >= 0.5 ? "ok" : "defect", score: Math.max(ok, 1 - ok) },
      scores: { ok, defect: 1 - ok },
    });
    const f = parityOf("classification", [
      { expected: c(0.9), actual: c(0.89), width: 1, height: 1 },
      { expected: c(0.55), actual: c(0.45), width: 1, height: 1 },
    ]);
    expect(f.top1Agreement).toBe(0.5);
    expect(f.maxScoreDelta).toBeCloseTo(0.1, 6);
    expect(f.meanBoxIou).toBeNull();
  });
});
