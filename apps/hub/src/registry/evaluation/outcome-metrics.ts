import type { DetectionOutcomes, SampleOutcomes, SegmentationOutcomes } from "./sample-outcomes.js";

/**
 * A gate metric recomputed from per-sample outcomes on a weighting of the samples (each sample
 * counted w[i] times): all ones gives the evaluation's own value, a bootstrap resample gives
 * one draw. Sorting happens once here, so a resample costs one pass over the samples.
 */
export interface Scorer {
  /** samples */
  n: number;
  /** null when the metric is undefined on this weighting (e.g. AUROC with one class only) */
  score(w: ArrayLike<number>): number | null;
  /** per-sample correctness, when the metric is the share of correct samples (accuracy) */
  correct?: Uint8Array;
}

/** The scorer of `metric` for these outcomes, or null when they cannot give it. */
export function scorerFor(o: SampleOutcomes, metric: string): Scorer | null {
  const n = o.sampleIds.length;
  switch (o.kind) {
    case "classification": {
      if (metric === "accuracy") return proportion(o.truth.map((t, i) => t === o.predicted[i]));
      if (metric === "f1_macro") return { n, score: (w) => f1Macro(o.truth, o.predicted, o.labels.length, w) };
      if (metric === "auroc" && o.ok.some(Boolean)) {
        return aurocScorer(
          o.score,
          o.truth.map((t) => !o.ok[t]),
        );
      }
      return null;
    }
    case "anomaly":
      if (metric === "accuracy") return proportion(o.truth.map((t, i) => t === o.finding[i]));
      if (metric === "auroc") {
        return aurocScorer(
          o.score,
          o.truth.map((t) => t === 1),
        );
      }
      return null;
    case "segmentation":
      return metric === "miou" ? { n, score: (w) => miou(o, w) } : null;
    case "detection":
      return metric === "map50" ? map50Scorer(o) : null;
  }
}

function proportion(correct: boolean[]): Scorer {
  const c = Uint8Array.from(correct, (v) => (v ? 1 : 0));
  return {
    n: c.length,
    correct: c,
    score(w) {
      let hit = 0;
      let all = 0;
      for (let i = 0; i < c.length; i++) {
        hit += w[i]! * c[i]!;
        all += w[i]!;
      }
      return all ? hit / all : null;
    },
  };
}

/** macro F1 over the labels present in the truth or the predictions (as classificationMetrics) */
function f1Macro(truth: number[], predicted: number[], k: number, w: ArrayLike<number>): number | null {
  const tp = new Float64Array(k);
  const support = new Float64Array(k);
  const pred = new Float64Array(k);
  let all = 0;
  for (let i = 0; i < truth.length; i++) {
    const x = w[i]!;
    if (!x) continue;
    all += x;
    support[truth[i]!]! += x;
    pred[predicted[i]!]! += x;
    if (truth[i] === predicted[i]) tp[truth[i]!]! += x;
  }
  if (!all) return null;
  let sum = 0;
  let count = 0;
  for (let c = 0; c < k; c++) {
    if (!support[c] && !pred[c]) continue;
    const p = pred[c] ? tp[c]! / pred[c]! : 0;
    const r = support[c] ? tp[c]! / support[c]! : 0;
    sum += p + r ? (2 * p * r) / (p + r) : 0;
    count++;
  }
  return count ? sum / count : 0;
}

/** Mann–Whitney ROC-AUC with ties counted half, on weighted samples */
function aurocScorer(scores: number[], positive: boolean[]): Scorer {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  // groups of equal scores, as [start, end) into order
  const groups: number[] = [0];
  for (let i = 1; i < n; i++) if (scores[order[i]!] !== scores[order[i - 1]!]) groups.push(i);
  groups.push(n);
  return {
    n,
    score(w) {
      let negBelow = 0;
      let sum = 0;
      let pos = 0;
      let neg = 0;
      for (let g = 0; g + 1 < groups.length; g++) {
        let p = 0;
        let q = 0;
        for (let j = groups[g]!; j < groups[g + 1]!; j++) {
          const i = order[j]!;
          if (positive[i]) p += w[i]!;
          else q += w[i]!;
        }
        sum += p * negBelow + 0.5 * p * q;
        negBelow += q;
        pos += p;
        neg += q;
      }
      return pos && neg ? sum / (pos * neg) : null;
    },
  };
}

/** mean IoU over the defect classes present in truth or prediction (as SegmentationAccumulator) */
function miou(o: SegmentationOutcomes, w: ArrayLike<number>): number | null {
  const k = o.k;
  const conf = new Float64Array(k * k);
  let any = false;
  for (let s = 0; s < o.cells.length; s++) {
    const x = w[s]!;
    if (!x) continue;
    any = true;
    const cells = o.cells[s]!;
    for (let j = 0; j + 1 < cells.length; j += 2) conf[cells[j]!]! += x * cells[j + 1]!;
  }
  if (!any) return null;
  let sum = 0;
  let count = 0;
  for (let c = 0; c < k; c++) {
    if (!o.defect[c]) continue;
    let row = 0;
    let col = 0;
    for (let i = 0; i < k; i++) {
      row += conf[c * k + i]!;
      col += conf[i * k + c]!;
    }
    const tp = conf[c * k + c]!;
    const union = row + col - tp;
    if (union > 0) {
      sum += tp / union;
      count++;
    }
  }
  return count ? sum / count : 1;
}

/**
 * mAP@0.5 (COCO 101-point) on weighted images. Matching is per image, so a detection's true or
 * false positive flag does not depend on the other images; a sample drawn twice adds its
 * detections twice at the same rank, which is what weighting each flag by w does.
 */
function map50Scorer(o: DetectionOutcomes): Scorer {
  const perLabel = o.labels.map((_, l) => {
    const list: Array<{ img: number; score: number; tp: number }> = [];
    o.dets.forEach((d, img) => {
      for (let j = 0; j + 2 < d.length; j += 3) if (d[j] === l) list.push({ img, score: d[j + 1]!, tp: d[j + 2]! });
    });
    // the evaluator's order: stable sort by score, images in order
    list.sort((a, b) => b.score - a.score);
    return {
      img: Int32Array.from(list, (x) => x.img),
      tp: Uint8Array.from(list, (x) => x.tp),
      truths: o.truths.map((t) => t[l] ?? 0),
    };
  });
  return {
    n: o.sampleIds.length,
    score(w) {
      let sum = 0;
      let count = 0;
      let any = false;
      for (let i = 0; i < o.sampleIds.length; i++) if (w[i]) any = true;
      if (!any) return null;
      for (const c of perLabel) {
        let total = 0;
        for (let i = 0; i < c.truths.length; i++) total += w[i]! * c.truths[i]!;
        if (total === 0) continue;
        sum += weightedAp(c.img, c.tp, total, w);
        count++;
      }
      return count ? sum / count : 0;
    },
  };
}

function weightedAp(img: Int32Array, tpFlag: Uint8Array, total: number, w: ArrayLike<number>): number {
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < img.length; j++) {
    const x = w[img[j]!]!;
    if (!x) continue;
    if (tpFlag[j]) tp += x;
    else fp += x;
    precision.push(tp / (tp + fp));
    recall.push(tp / total);
  }
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
  let sum = 0;
  let i = 0;
  for (let r = 0; r <= 100; r++) {
    const at = r / 100;
    while (i < recall.length && recall[i]! < at - 1e-12) i++;
    sum += i < recall.length ? precision[i]! : 0;
  }
  return sum / 101;
}
