/** A candidate box in model-input px (corners) with its best class. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  cls: number;
}

/**
 * Class-wise greedy NMS: best first, a box is dropped when it overlaps a kept box of the same
 * class by IoU > `iou` (torchvision's rule, which Ultralytics uses). Stops at `max` kept
 * boxes, which equals NMS-then-truncate because boxes are kept in score order.
 */
export function nonMaxSuppression(candidates: readonly Candidate[], iou: number, max: number): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= max) break;
    if (!kept.some((k) => k.cls === c.cls && intersectionOverUnion(k, c) > iou)) kept.push(c);
  }
  return kept;
}

/** Intersection over union of two corner boxes; 0 for empty ones. */
export function intersectionOverUnion(a: Candidate, b: Candidate): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}
