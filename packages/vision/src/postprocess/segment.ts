import type { ModelManifest, SegmentationPost, SegmentationResult } from "@kensa/contracts";
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
 * A segmentation model's mask scores → regions: per pixel the argmax class (or, for a
 * one-channel binary mask, the foreground where the score reaches maskThreshold), then
 * 8-connected regions per class with their area and box in original px and mean score.
 * OK labels (the background) give no regions. Reads the first image of the batch.
 */
export function segment(
  mask: TensorData,
  manifest: ModelManifest,
  post: SegmentationPost,
  transform: ResizeTransform,
): SegmentationResult {
  checkMask(mask, manifest, post);
  const [, c, h, w] = mask.dims as [number, number, number, number];
  const n = h * w;
  const data = mask.data;
  const classes = new Int32Array(n).fill(-1);
  const scores = new Float32Array(n);
  const labels = manifest.labels;
  const ok = labels.map((l) => manifest.okLabels.includes(l));

  if (c === 1) {
    const fg = labels.length - 1;
    const binary = ok[fg] ? -1 : fg;
    for (let i = 0; i < n; i++) {
      const p = post.activation === "sigmoid" ? sigmoid(data[i]!) : data[i]!;
      scores[i] = p;
      if (p >= post.maskThreshold) classes[i] = binary;
    }
  } else {
    for (let i = 0; i < n; i++) {
      let best = 0;
      let max = data[i]!;
      for (let k = 1; k < c; k++) {
        const v = data[k * n + i]!;
        if (v > max) {
          max = v;
          best = k;
        }
      }
      if (ok[best]) continue;
      classes[i] = best;
      if (post.activation === "softmax") {
        let sum = 0;
        for (let k = 0; k < c; k++) sum += Math.exp(data[k * n + i]! - max);
        scores[i] = 1 / sum;
      } else {
        scores[i] = post.activation === "sigmoid" ? sigmoid(max) : max;
      }
    }
  }

  const g = maskGeometry(w, h, manifest.input.width, manifest.input.height);
  clearPadding(classes, g, transform);
  const regions = toRegions(
    connectedRegions(classes, scores, w, h),
    classes,
    labels,
    g,
    transform,
    post.minArea,
    post.maxRegions,
  );
  const finding = regions.some((r) => r.score >= thresholdOf(manifest, r.label));
  return { task: "segmentation", regions, finding };
}

function checkMask(mask: TensorData, manifest: ModelManifest, post: SegmentationPost): void {
  const d = mask.dims;
  const nl = manifest.labels.length;
  if (d.length !== 4) throw mismatch(`a segmentation output must be [N,C,H,W], got ${shape(mask)}`);
  const c = d[1]!;
  if (c === 1) {
    if (nl > 2) throw mismatch(`a one-channel mask ${shape(mask)} is binary but the manifest has ${nl} labels`);
    if (post.activation === "softmax") {
      throw mismatch(
        `a one-channel mask ${shape(mask)} needs activation "sigmoid" or "none": softmax of one value is 1`,
      );
    }
  } else if (c !== nl) {
    throw mismatch(`the mask ${shape(mask)} has ${c} classes but the manifest has ${nl} labels`);
  }
  if (mask.data.length < c * d[2]! * d[3]!) throw mismatch(`the mask ${shape(mask)} holds too few values`);
}

export const segmentationPostprocessor: PostprocessorFactory<SegmentationPost> = (post, manifest, modelOutputs) => {
  const name = resolveOutput(post.output, modelOutputs);
  return {
    outputs: [name],
    check: (outputs) => checkMask(tensorOf(outputs, name), manifest, post),
    run: (outputs, transform) => segment(tensorOf(outputs, name), manifest, post, transform),
  };
};
