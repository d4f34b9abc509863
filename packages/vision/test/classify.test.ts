import type { ModelManifest } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { classify, percentile } from "../src/index.js";

function manifest(activation: "softmax" | "sigmoid" | "none", thresholds: ModelManifest["thresholds"]): ModelManifest {
  return {
    task: "classification",
    input: { name: "x", width: 8, height: 8, channels: 3, layout: "NCHW" },
    preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0], std: [1] },
    labels: ["ok", "scratch", "dent"],
    okLabels: ["ok"],
    postprocessing: { type: "classification", activation },
    thresholds,
  };
}

const plain = { default: 0.5, perClass: {} };

describe("classify", () => {
  it("softmax: e^x / sum e^x, argmax label", () => {
    const r = classify(Float32Array.from([1, 2, 3]), manifest("softmax", plain));
    // e^1, e^2, e^3 = 2.71828, 7.38906, 20.08554; sum 30.19288
    expect(r.scores.ok).toBeCloseTo(0.09003, 5);
    expect(r.scores.scratch).toBeCloseTo(0.24473, 5);
    expect(r.scores.dent).toBeCloseTo(0.66524, 5);
    expect(r).toMatchObject({ task: "classification", label: "dent", finding: true });
    expect(r.score).toBeCloseTo(0.66524, 5);
  });

  it("softmax stays finite for large logits", () => {
    const r = classify(Float32Array.from([1000, 1001, 0]), manifest("softmax", plain));
    expect(r.label).toBe("scratch");
    expect(r.score).toBeCloseTo(0.73106, 5);
  });

  it("sigmoid: each score independently 1 / (1 + e^-x)", () => {
    const r = classify(Float32Array.from([0, 2, -1]), manifest("sigmoid", plain));
    expect(r.scores.ok).toBeCloseTo(0.5, 6);
    expect(r.scores.scratch).toBeCloseTo(0.880797, 5);
    expect(r.scores.dent).toBeCloseTo(0.268941, 5);
    expect(r).toMatchObject({ label: "scratch", finding: true });
  });

  it("none: scores as the model gave them", () => {
    const r = classify(Float32Array.from([0.7, 0.2, 0.1]), manifest("none", plain));
    expect(r.scores.ok).toBeCloseTo(0.7, 6);
    expect(r).toMatchObject({ label: "ok", finding: false });
  });

  it("a non-OK label is a finding only at or above its threshold; OK labels never are", () => {
    const m = manifest("none", { default: 0.5, perClass: { scratch: 0.8 } });
    expect(classify(Float32Array.from([0.1, 0.75, 0.15]), m)).toMatchObject({ label: "scratch", finding: false });
    expect(classify(Float32Array.from([0, 0.8, 0.2]), m).finding).toBe(true);
    expect(classify(Float32Array.from([0.3, 0.2, 0.5]), m)).toMatchObject({ label: "dent", finding: true });
    expect(classify(Float32Array.from([0.3, 0.25, 0.45]), m)).toMatchObject({ label: "dent", finding: false });
    expect(classify(Float32Array.from([0.99, 0, 0.01]), m)).toMatchObject({ label: "ok", finding: false });
  });

  it("reads the first image of a batch and rejects an output shorter than the labels", () => {
    expect(classify(Float32Array.from([0.1, 0.8, 0.1, 0.9, 0.05, 0.05]), manifest("none", plain)).label).toBe(
      "scratch",
    );
    expect(() => classify(Float32Array.from([0.5, 0.5]), manifest("none", plain))).toThrow(
      expect.objectContaining({ code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH" }),
    );
  });
});

describe("percentile", () => {
  it("interpolates between closest ranks and leaves its input alone", () => {
    const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    expect(percentile(xs, 50)).toBeCloseTo(5.5, 10);
    expect(percentile(xs, 95)).toBeCloseTo(9.55, 10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([4], 95)).toBe(4);
    expect(percentile([], 50)).toBe(0);
    expect(xs[0]).toBe(10);
  });
});
