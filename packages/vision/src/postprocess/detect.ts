import type { DetectionPost, DetectionResult, ModelManifest } from "@kensa/contracts";
import type { TensorData } from "../load-model.js";
import { type ResizeTransform, toOriginalBox } from "../resize-transform.js";
import { checkBoxes, checkYolo, type DetectionTensors, decodeDetections } from "./decode-detections.js";
import { nonMaxSuppression } from "./non-max-suppression.js";
import { type PostprocessorFactory, resolveOutput, tensorOf, thresholdOf, unit } from "./postprocessor.js";

/**
 * Ultralytics' max_nms: beyond this many candidates only the best are suppressed among, so a
 * model that fires everywhere (minScore near 0) costs bounded time.
 */
const MAX_CANDIDATES = 30000;

/**
 * A detector's raw outputs → detections: decode per layout, drop candidates under minScore,
 * class-wise NMS, keep maxDetections, map boxes from model-input px back to the original
 * frame through the letterbox/crop/stretch transform. finding = some detection of a non-OK
 * label at or above its threshold.
 */
export function detect(
  tensors: DetectionTensors,
  manifest: ModelManifest,
  post: DetectionPost,
  transform: ResizeTransform,
): DetectionResult {
  let candidates = decodeDetections(tensors, manifest, post);
  if (candidates.length > MAX_CANDIDATES) {
    candidates = candidates.sort((a, b) => b.score - a.score).slice(0, MAX_CANDIDATES);
  }
  const kept = nonMaxSuppression(candidates, post.iou, post.maxDetections);
  const detections = kept.map((c) => ({
    label: manifest.labels[c.cls]!,
    score: unit(c.score),
    box: toOriginalBox(c.x1, c.y1, c.x2, c.y2, transform),
  }));
  const finding = detections.some(
    (d) => !manifest.okLabels.includes(d.label) && d.score >= thresholdOf(manifest, d.label),
  );
  return { task: "detection", detections, finding };
}

export const detectionPostprocessor: PostprocessorFactory<DetectionPost> = (post, manifest, modelOutputs) => {
  if (post.layout === "boxes") {
    const names = post.outputs;
    const boxes = resolveOutput(names.boxes, modelOutputs);
    const scores = resolveOutput(names.scores, modelOutputs);
    const labels = resolveOutput(names.labels, modelOutputs);
    const pick = (outputs: Record<string, TensorData>): DetectionTensors => ({
      boxes: tensorOf(outputs, boxes),
      scores: tensorOf(outputs, scores),
      labels: tensorOf(outputs, labels),
    });
    return {
      outputs: [boxes, scores, labels],
      check: (outputs) => {
        checkBoxes(pick(outputs), post);
      },
      run: (outputs, transform) => detect(pick(outputs), manifest, post, transform),
    };
  }
  const name = resolveOutput(post.output, modelOutputs);
  return {
    outputs: [name],
    check: (outputs) => {
      checkYolo(tensorOf(outputs, name), manifest, post);
    },
    run: (outputs, transform) => detect({ predictions: tensorOf(outputs, name) }, manifest, post, transform),
  };
};
