import { type ClassificationResult, KensaError, type ModelManifest } from "@kensa/contracts";

/**
 * Turns a classifier's raw output for one image into a result: activation per the manifest,
 * label = argmax, finding = a non-OK label whose score reaches its threshold. Only the first
 * `labels.length` values are read (the first image of a batch).
 */
export function classify(output: Float32Array, manifest: ModelManifest): ClassificationResult {
  const labels = manifest.labels;
  if (output.length < labels.length) {
    throw new KensaError(
      "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      `The model output has ${output.length} values but the manifest names ${labels.length} labels`,
    );
  }
  const raw = Array.from(output.subarray(0, labels.length));
  const activation = manifest.postprocessing.activation;
  const probs = activation === "softmax" ? softmax(raw) : activation === "sigmoid" ? raw.map(sigmoid) : raw;

  let best = 0;
  for (let i = 1; i < probs.length; i++) {
    // NaN never wins, so a broken output still yields a label rather than index 0 by accident
    if (probs[i]! > probs[best]! || Number.isNaN(probs[best]!)) best = i;
  }
  const label = labels[best]!;
  const scores: Record<string, number> = {};
  labels.forEach((l, i) => {
    scores[l] = probs[i]!;
  });
  // with activation "none" the model promises probabilities; clamp so the event schema (0..1) holds
  const top = probs[best]!;
  const score = Number.isNaN(top) ? 0 : Math.min(1, Math.max(0, top));
  const threshold = manifest.thresholds.perClass[label] ?? manifest.thresholds.default;
  const finding = !manifest.okLabels.includes(label) && score >= threshold;
  return { task: "classification", label, score, scores, finding };
}

function softmax(x: number[]): number[] {
  // subtracting the max keeps exp() finite for large logits
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
