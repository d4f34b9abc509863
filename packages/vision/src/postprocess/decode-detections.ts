import type { DetectionPost, ModelManifest } from "@kensa/contracts";
import type { TensorData } from "../load-model.js";
import type { Candidate } from "./non-max-suppression.js";
import { mismatch, shape, sigmoid } from "./postprocessor.js";

/** The tensors a detection layout reads, by role. */
export interface DetectionTensors {
  /** yolov5 / yolov8: the one prediction tensor */
  predictions?: TensorData;
  boxes?: TensorData;
  scores?: TensorData;
  labels?: TensorData;
}

/**
 * Raw detector outputs → candidates at or above `minScore`, corners in model-input px, one
 * class per box (its best, as Ultralytics does with multi_label off). First image only.
 */
export function decodeDetections(t: DetectionTensors, manifest: ModelManifest, post: DetectionPost): Candidate[] {
  const nc = manifest.labels.length;
  const act = post.activation === "sigmoid" ? sigmoid : (x: number) => x;
  const sx = post.coordinates === "normalized" ? manifest.input.width : 1;
  const sy = post.coordinates === "normalized" ? manifest.input.height : 1;
  const out: Candidate[] = [];
  const push = (cx: number, cy: number, w: number, h: number, score: number, cls: number) => {
    out.push({
      x1: (cx - w / 2) * sx,
      y1: (cy - h / 2) * sy,
      x2: (cx + w / 2) * sx,
      y2: (cy + h / 2) * sy,
      score,
      cls,
    });
  };

  if (post.layout === "yolov5") {
    const p = t.predictions!;
    const n = checkYolo(p, manifest, post);
    const stride = 5 + nc;
    const d = p.data;
    for (let i = 0; i < n; i++) {
      const row = i * stride;
      const obj = act(d[row + 4]!);
      if (obj < post.minScore) continue;
      let best = 0;
      let max = d[row + 5]!;
      for (let c = 1; c < nc; c++) {
        if (d[row + 5 + c]! > max) {
          max = d[row + 5 + c]!;
          best = c;
        }
      }
      // YOLOv5's confidence is objectness × class probability
      const score = obj * act(max);
      if (score >= post.minScore) push(d[row]!, d[row + 1]!, d[row + 2]!, d[row + 3]!, score, best);
    }
    return out;
  }

  if (post.layout === "yolov8") {
    const p = t.predictions!;
    const n = checkYolo(p, manifest, post);
    const d = p.data;
    // channel-major [4 + nc, N]: scan one class row at a time so memory is read in order
    const best = new Int32Array(n);
    const max = d.slice(4 * n, 5 * n);
    for (let c = 1; c < nc; c++) {
      const base = (4 + c) * n;
      for (let i = 0; i < n; i++) {
        if (d[base + i]! > max[i]!) {
          max[i] = d[base + i]!;
          best[i] = c;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      // the activation is monotonic: applying it to the best raw value alone is enough
      const score = act(max[i]!);
      if (score >= post.minScore) push(d[i]!, d[n + i]!, d[2 * n + i]!, d[3 * n + i]!, score, best[i]!);
    }
    return out;
  }

  const { boxes, scores, labels, n } = checkBoxes(t, post);
  for (let i = 0; i < n; i++) {
    const score = act(scores.data[i]!);
    if (score < post.minScore) continue;
    const cls = labels.data[i]!;
    if (!Number.isInteger(cls) || cls < 0 || cls >= nc) {
      throw mismatch(`the model detected class index ${cls} but the manifest has ${nc} labels`);
    }
    const [a, b, c, e] = [boxes.data[4 * i]!, boxes.data[4 * i + 1]!, boxes.data[4 * i + 2]!, boxes.data[4 * i + 3]!];
    if (post.boxFormat === "xyxy") push((a + c) / 2, (b + e) / 2, c - a, e - b, score, cls);
    else if (post.boxFormat === "xywh") push(a + c / 2, b + e / 2, c, e, score, cls);
    else push(a, b, c, e, score, cls);
  }
  return out;
}

/**
 * Shape rules per layout, with messages that say what the manifest implies: YOLOv8 rows are
 * 4 + nc, YOLOv5 columns 5 + nc. Returns the number of candidate boxes.
 */
export function checkYolo(p: TensorData, manifest: ModelManifest, post: DetectionPost): number {
  const nc = manifest.labels.length;
  const d = p.dims;
  if (d.length !== 3) throw mismatch(`a ${post.layout} output must be 3-D, got ${shape(p)}`);
  if (post.layout === "yolov8") {
    if (d[1] !== 4 + nc) {
      throw mismatch(
        `a yolov8 output is [1, 4 + classes, N]: ${shape(p)} has ${d[1]} rows but the manifest's ` +
          `${nc} labels need ${4 + nc}`,
      );
    }
    return d[2]!;
  }
  if (d[2] !== 5 + nc) {
    throw mismatch(
      `a yolov5 output is [1, N, 5 + classes]: ${shape(p)} has ${d[2]} columns but the manifest's ` +
        `${nc} labels need ${5 + nc}`,
    );
  }
  return d[1]!;
}

/** boxes [N,4] or [1,N,4]; scores and labels [N] or [1,N]. Returns N. */
export function checkBoxes(
  t: DetectionTensors,
  post: DetectionPost,
): { boxes: TensorData; scores: TensorData; labels: TensorData; n: number } {
  const { boxes, scores, labels } = t;
  const names = post.outputs;
  if (!boxes || !scores || !labels) throw mismatch(`layout "boxes" needs the outputs ${JSON.stringify(names)}`);
  const bd = boxes.dims;
  if (bd.length < 2 || bd.length > 3 || bd[bd.length - 1] !== 4 || (bd.length === 3 && bd[0] !== 1)) {
    throw mismatch(`output "${names.boxes}" must be [N,4] or [1,N,4], got ${shape(boxes)}`);
  }
  const n = bd[bd.length - 2]!;
  for (const [role, x] of [
    ["scores", scores],
    ["labels", labels],
  ] as const) {
    if (x.data.length !== n) {
      throw mismatch(`output "${names[role]}" ${shape(x)} must hold one value per box (${n} boxes)`);
    }
  }
  return { boxes, scores, labels, n };
}
