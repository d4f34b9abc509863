import type { AnomalyPost, AnomalyResult, ModelManifest } from "@kensa/contracts";
import type { TensorData } from "../load-model.js";
import type { ResizeTransform } from "../resize-transform.js";
import { clearPadding, connectedRegions, maskGeometry, toRegions } from "./connected-regions.js";
import {
  mismatch,
  type PostprocessorFactory,
  resolveOutput,
  shape,
  sigmoid,
  tensorOf,
  thresholdOf,
} from "./postprocessor.js";

/**
 * An anomaly score map → image score and regions. Pixel scores go through the activation and
 * `normalize` into 0..1; the image score is the map's maximum, or the mean of its `topK`
 * highest pixels (less sensitive to one hot pixel). Pixels at or above `mapThreshold` (else
 * the label's threshold) form 8-connected regions. Letterbox padding never scores.
 */
export function scoreAnomaly(
  map: TensorData,
  manifest: ModelManifest,
  post: AnomalyPost,
  transform: ResizeTransform,
): AnomalyResult {
  const [h, w] = checkMap(map);
  const n = h * w;
  const label = anomalyLabel(manifest);
  const labelIndex = manifest.labels.indexOf(label);
  const threshold = thresholdOf(manifest, label);
  const mapThreshold = post.mapThreshold ?? threshold;
  const lo = post.normalize?.min ?? 0;
  const range = post.normalize ? post.normalize.max - post.normalize.min : 1;

  const g = maskGeometry(w, h, manifest.input.width, manifest.input.height);
  const scores = new Float32Array(n);
  // first the frame itself (every pixel but letterbox padding), which alone is scored
  const classes = new Int32Array(n).fill(labelIndex);
  clearPadding(classes, g, transform);
  const inFrame = new Float32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const raw = post.activation === "sigmoid" ? sigmoid(map.data[i]!) : map.data[i]!;
    const v = (raw - lo) / range;
    // NaN fails every comparison: it neither scores nor joins a region
    const p = v >= 0 ? Math.min(v, 1) : 0;
    scores[i] = p;
    if (classes[i] === -1) continue;
    inFrame[m++] = p;
    if (p < mapThreshold) classes[i] = -1;
  }
  const score = reduce(inFrame.subarray(0, m), post);
  const found = connectedRegions(classes, scores, w, h);
  const regions = toRegions(found, classes, manifest.labels, g, transform, post.minArea, post.maxRegions);
  return { task: "anomaly", label, score, regions, finding: score >= threshold };
}

/** The label anomalies are reported under: the manifest's first label that is not OK. */
export function anomalyLabel(manifest: ModelManifest): string {
  const label = manifest.labels.find((l) => !manifest.okLabels.includes(l));
  if (label === undefined) throw mismatch("an anomaly model needs a label that is not in okLabels");
  return label;
}

function reduce(scores: Float32Array, post: AnomalyPost): number {
  if (scores.length === 0) return 0;
  if (post.scoreReduce === "max") {
    let max = 0;
    for (const v of scores) if (v > max) max = v;
    return max;
  }
  const k = Math.min(post.topK, scores.length);
  const top = scores.length - k;
  selectNth(scores, top);
  let sum = 0;
  for (let i = top; i < scores.length; i++) sum += scores[i]!;
  return sum / k;
}

/**
 * Reorders `xs` in place so that xs[nth] is the value a full sort would put there, smaller
 * values before it and larger after (Hoare quickselect): O(n) where sorting a 256×256 map
 * every frame would cost milliseconds.
 */
function selectNth(xs: Float32Array, nth: number): void {
  let lo = 0;
  let hi = xs.length - 1;
  while (hi > lo) {
    const pivot = xs[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i]! < pivot) i++;
      while (xs[j]! > pivot) j--;
      if (i <= j) {
        const t = xs[i]!;
        xs[i] = xs[j]!;
        xs[j] = t;
        i++;
        j--;
      }
    }
    if (nth <= j) hi = j;
    else if (nth >= i) lo = i;
    else return;
  }
}

/** [N,1,H,W] or [N,H,W] → [H, W] */
function checkMap(map: TensorData): [number, number] {
  const d = map.dims;
  const ok = (d.length === 4 && d[1] === 1) || d.length === 3;
  if (!ok) throw mismatch(`an anomaly map must be [N,1,H,W] or [N,H,W], got ${shape(map)}`);
  const h = d[d.length - 2]!;
  const w = d[d.length - 1]!;
  if (map.data.length < h * w) throw mismatch(`the anomaly map ${shape(map)} holds too few values`);
  return [h, w];
}

export const anomalyPostprocessor: PostprocessorFactory<AnomalyPost> = (post, manifest, modelOutputs) => {
  const name = resolveOutput(post.output, modelOutputs);
  anomalyLabel(manifest);
  return {
    outputs: [name],
    check: (outputs) => {
      checkMap(tensorOf(outputs, name));
    },
    run: (outputs, transform) => scoreAnomaly(tensorOf(outputs, name), manifest, post, transform),
  };
};
