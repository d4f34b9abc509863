import type { ScoreCurves } from "@kensa/contracts";

/**
 * ROC (false-positive rate, true-positive rate) and precision–recall points of `scores` against
 * `positive`, one point per distinct score threshold (high to low), thinned to at most
 * `maxPoints` so a stored evaluation stays small. Null when either class is missing.
 */
export function scoreCurves(
  scores: ArrayLike<number>,
  positive: ArrayLike<boolean>,
  maxPoints = 101,
): ScoreCurves | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let pos = 0;
  for (let i = 0; i < n; i++) if (positive[i]) pos++;
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  const roc: ScoreCurves["roc"] = [{ threshold: 1, fpr: 0, tpr: 0 }];
  const pr: ScoreCurves["pr"] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < n; ) {
    const t = scores[order[i]!]!;
    // every image at this score crosses the threshold together
    while (i < n && scores[order[i]!] === t) {
      if (positive[order[i]!]) tp++;
      else fp++;
      i++;
    }
    roc.push({ threshold: t, fpr: fp / neg, tpr: tp / pos });
    pr.push({ threshold: t, recall: tp / pos, precision: tp / (tp + fp) });
  }
  return { roc: thin(roc, maxPoints), pr: thin(pr, maxPoints) };
}

/** Keeps the first and last points and evenly spaced ones between. */
function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let k = 0; k < max; k++) out.push(points[Math.round(k * step)]!);
  return out;
}
