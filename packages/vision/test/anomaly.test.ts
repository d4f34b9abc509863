import { compile, InferenceResult, type ModelManifest, parseManifest } from "@kensa/contracts";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { buildFixedOutputModel } from "../src/graph/index.js";
import { checkModelAgainstManifest, Inferencer } from "../src/index.js";

const validResult = compile(InferenceResult);

/**
 * A 4×4 score map for a 4×4 input of an 8×8 frame (one map px = 2×2 frame px):
 *   .1 .2 .9 .8      max .9; top-3 mean (.9 + .8 + .7) / 3 = .8
 *   .1 .1 .7 .1      ≥ .5: {(2,0),(3,0),(2,1)} mean .8, box [4,0,4,4], area 12
 *   .6 .1 .1 .1           {(0,2)} .6, box [0,4,2,2], area 4
 *   .1 .1 .1 .3
 */
const MAP = [0.1, 0.2, 0.9, 0.8, 0.1, 0.1, 0.7, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3];
const onnx = buildFixedOutputModel({
  width: 4,
  height: 4,
  outputs: [
    { name: "pred_score", dims: [1, 1], values: [0.42] },
    { name: "anomaly_map", dims: [1, 1, 4, 4], values: MAP },
  ],
});

function manifest(post: Record<string, unknown> = {}, o: Record<string, unknown> = {}): ModelManifest {
  return parseManifest({
    task: "anomaly",
    input: { name: "images", width: 4, height: 4 },
    preprocessing: {},
    labels: ["good", "anomaly"],
    okLabels: ["good"],
    postprocessing: { type: "anomaly", output: "anomaly_map", ...post },
    thresholds: { default: 0.5 },
    ...o,
  });
}

async function run(m: ModelManifest) {
  const inf = await Inferencer.create(onnx, m, { intraOpThreads: 1 });
  const frame = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#777" } })
    .png()
    .toBuffer();
  const out = await inf.infer(frame);
  await inf.close();
  if (out.result.task !== "anomaly") throw new Error("not an anomaly result");
  return out.result;
}

describe("anomaly", () => {
  it("scores the image by the map's maximum and finds regions at the threshold", async () => {
    await checkModelAgainstManifest(onnx, manifest());
    const r = await run(manifest());
    expect(r.label).toBe("anomaly");
    expect(r.score).toBeCloseTo(0.9, 6);
    expect(r.finding).toBe(true);
    expect(r.regions.map((x) => [x.label, x.area, x.maskArea, x.box])).toEqual([
      ["anomaly", 12, 3, [4, 0, 4, 4]],
      ["anomaly", 4, 1, [0, 4, 2, 2]],
    ]);
    expect(r.regions[0]!.score).toBeCloseTo(0.8, 6);
    expect(r.regions[1]!.score).toBeCloseTo(0.6, 6);
    expect(validResult.check(r)).toBe(true);
  });

  it("top-k mean, map threshold, min area, normalisation", async () => {
    const topk = await run(manifest({ scoreReduce: "topk-mean", topK: 3 }));
    expect(topk.score).toBeCloseTo(0.8, 6);
    const strictMap = await run(manifest({ mapThreshold: 0.65 }));
    expect(strictMap.regions.map((x) => x.maskArea)).toEqual([3]);
    const bigOnly = await run(manifest({ minArea: 5 }));
    expect(bigOnly.regions.map((x) => x.area)).toEqual([12]);
    // raw 0..2 → 0..1: the maximum .9 becomes .45, under the 0.5 threshold
    const halved = await run(manifest({ normalize: { min: 0, max: 2 } }));
    expect(halved.score).toBeCloseTo(0.45, 6);
    expect(halved).toMatchObject({ finding: false, regions: [] });
    // the label's own threshold decides
    const perClass = await run(manifest({}, { thresholds: { default: 0.5, perClass: { anomaly: 0.95 } } }));
    expect(perClass).toMatchObject({ finding: false });
    expect(perClass.regions).toEqual([]); // the map threshold follows the label's threshold
  });

  it("rejects a map that is not [N,1,H,W] and a manifest with no anomaly label", async () => {
    await expect(checkModelAgainstManifest(onnx, manifest({ output: "pred_score" }))).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/anomaly map must be \[N,1,H,W\] or \[N,H,W\], got \[1,1\]/),
    });
    await expect(checkModelAgainstManifest(onnx, manifest({ output: "heatmap" }))).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/"heatmap" is not a model output \("pred_score", "anomaly_map"\)/),
    });
  });
});
