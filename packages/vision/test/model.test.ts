import type { ModelManifest } from "@kensa/contracts";
import { renderFrame } from "@kensa/synth";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../src/graph/index.js";
import { Classifier, checkModelAgainstManifest, loadModel } from "../src/index.js";

/**
 * A 3-class "classifier" on a fixed 3x4x4 input: mean colour per channel (GlobalAveragePool)
 * times the identity, so logits are the mean R, G, B and the answer is easy to predict.
 */
function meanColourModel(): Uint8Array {
  const g = new GraphBuilder("mean-colour");
  const x = g.input("pixels", ["N", 3, 4, 4]);
  const flat = g.node("Flatten", [g.node("GlobalAveragePool", [x])], { axis: { int: 1 } });
  const w = g.initializer("w", [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const b = g.initializer("b", [3], [0, 0, 0]);
  g.output(g.node("Gemm", [flat, w, b], { transB: { int: 1 } }, "logits"), ["N", 3]);
  return g.toBytes();
}

const manifest = (o: Partial<ModelManifest> = {}): ModelManifest => ({
  task: "classification",
  input: { name: "pixels", width: 4, height: 4, channels: 3, layout: "NCHW" },
  preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  labels: ["red", "green", "blue"],
  okLabels: ["green"],
  postprocessing: { type: "classification", activation: "none", output: "logits" },
  thresholds: { default: 0.5, perClass: {} },
  ...o,
});

describe("loadModel", () => {
  it("runs a model built with the graph builder, batch dimension dynamic", async () => {
    const runner = await loadModel(meanColourModel(), { intraOpThreads: 1 });
    expect(runner.inputNames).toEqual(["pixels"]);
    expect(runner.outputNames).toEqual(["logits"]);
    const data = new Float32Array(2 * 48);
    data.fill(0.25, 0, 16); // image 0: red plane
    data.fill(0.75, 48 + 32, 96); // image 1: blue plane
    const out = await runner.run({ pixels: { data, dims: [2, 3, 4, 4] } });
    expect(out.logits!.dims).toEqual([2, 3]);
    expect(Array.from(out.logits!.data)).toEqual([0.25, 0, 0, 0, 0, 0.75]);
    await runner.release();
    await runner.release(); // idempotent
  });

  it("garbage, empty or truncated bytes give KENSA_ERR_MODEL_INVALID_ONNX", async () => {
    const good = meanColourModel();
    for (const bytes of [new TextEncoder().encode("definitely not onnx"), new Uint8Array(0), good.subarray(0, 40)]) {
      await expect(loadModel(bytes)).rejects.toMatchObject({ code: "KENSA_ERR_MODEL_INVALID_ONNX" });
    }
  });
});

describe("checkModelAgainstManifest", () => {
  it("accepts a matching pair", async () => {
    await expect(checkModelAgainstManifest(meanColourModel(), manifest())).resolves.toBeUndefined();
    // without postprocessing.output the first output is used
    await expect(
      checkModelAgainstManifest(
        meanColourModel(),
        manifest({ postprocessing: { type: "classification", activation: "none" } }),
      ),
    ).resolves.toBeUndefined();
  });

  it("names what differs: label count, input name, output name, input shape", async () => {
    const cases: [Partial<ModelManifest>, RegExp][] = [
      [{ labels: ["ok", "defect"] }, /3 values per image.*2 labels/],
      [{ input: { name: "image", width: 4, height: 4, channels: 3, layout: "NCHW" } }, /input "image".*"pixels"/],
      [{ postprocessing: { type: "classification", activation: "none", output: "scores" } }, /output "scores"/],
      [{ input: { name: "pixels", width: 8, height: 8, channels: 3, layout: "NCHW" } }, /shape \[1,3,8,8\]/],
      [{ input: { name: "pixels", width: 4, height: 4, channels: 1, layout: "NCHW" } }, /shape \[1,1,4,4\]/],
    ];
    for (const [o, message] of cases) {
      const err = await checkModelAgainstManifest(meanColourModel(), manifest(o)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH", message: expect.stringMatching(message) });
    }
  });

  it("rejects garbage as KENSA_ERR_MODEL_INVALID_ONNX", async () => {
    await expect(checkModelAgainstManifest(new Uint8Array([1, 2, 3]), manifest())).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_INVALID_ONNX",
    });
  });
});

describe("Classifier", () => {
  it("classifies an encoded image end to end and reports latencies", async () => {
    const clf = await Classifier.create(meanColourModel(), manifest(), { intraOpThreads: 1 });
    expect(await clf.warmup()).toBeGreaterThan(0);
    const f = await renderFrame(0, { seed: 1, surface: "cast", width: 64, height: 48 });
    // a cast surface is warm grey: red is its largest channel, a finding as "red" is not OK
    const c = await clf.infer(f.jpeg);
    expect(c.frame).toEqual({ width: 64, height: 48 });
    expect(c.result.label).toBe("red");
    expect(c.result.score).toBeGreaterThan(0.4);
    expect(c.result.finding).toBe(false); // below the 0.5 default threshold
    expect(c.latencyMs.total).toBeGreaterThanOrEqual(c.latencyMs.preprocess + c.latencyMs.inference);
    expect(c.latencyMs.inference).toBeGreaterThan(0);
    await expect(clf.infer(new Uint8Array([0xff, 0xd8, 0xff]))).rejects.toMatchObject({
      code: "KENSA_ERR_MEDIA_INVALID",
    });
    await clf.close();
  });

  it("refuses a manifest whose input or output the model lacks", async () => {
    const bad = manifest({ input: { name: "image", width: 4, height: 4, channels: 3, layout: "NCHW" } });
    await expect(Classifier.create(meanColourModel(), bad)).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
    });
  });
});

describe("GraphBuilder", () => {
  it("refuses to read values that do not exist or to define one twice", () => {
    const g = new GraphBuilder("broken");
    g.input("x", ["N", 1]);
    expect(() => g.node("Relu", ["y"])).toThrow(/unknown value y/);
    g.node("Relu", ["x"], {}, "r");
    expect(() => g.node("Relu", ["x"], {}, "r")).toThrow(/twice/);
    expect(() => g.initializer("w", [2, 2], [1, 2, 3])).toThrow(/need 4 values/);
  });
});
