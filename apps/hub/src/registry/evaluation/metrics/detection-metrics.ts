import type { Box, DetectionMetrics } from "@kensa/contracts";

export interface DetectionImage {
  truths: ReadonlyArray<{ label: string; box: Box }>;
  detections: ReadonlyArray<{ label: string; score: number; box: Box }>;
}

/** IoU thresholds of COCO's mAP@0.5:0.95 */
export const COCO_IOUS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

/**
 * COCO-style detection metrics: per class and IoU threshold, detections of all images ranked
 * by score are matched greedily to the unmatched truth of their image they overlap most
 * (a match needs IoU ≥ threshold); AP is the mean of the monotone precision envelope at the
 * 101 recall points 0, 0.01, …, 1. Classes without truth are reported but left out of the
 * means (COCO does the same).
 */
export function detectionMetrics(images: readonly DetectionImage[], labels: readonly string[]): DetectionMetrics {
  const perClass: DetectionMetrics["perClass"] = {};
  const ap50s: number[] = [];
  const apAll: number[] = [];
  for (const label of labels) {
    const truths = images.map((im) => im.truths.filter((t) => t.label === label).map((t) => t.box));
    const dets = images
      .flatMap((im, img) =>
        im.detections.filter((d) => d.label === label).map((d) => ({ img, score: d.score, box: d.box })),
      )
      .sort((a, b) => b.score - a.score);
    const total = truths.reduce((a, t) => a + t.length, 0);
    const aps = COCO_IOUS.map((t) => averagePrecision(dets, truths, total, t));
    const ap50 = aps[0]!;
    const ap5095 = aps.reduce((a, b) => a + b, 0) / aps.length;
    perClass[label] = { ap50, ap50_95: ap5095, truths: total, detections: dets.length };
    if (total > 0) {
      ap50s.push(ap50);
      apAll.push(ap5095);
    }
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  return { map50: mean(ap50s), map50_95: mean(apAll), perClass };
}

/** AP of score-ranked detections against per-image truths at one IoU threshold (COCO 101-point). */
export function averagePrecision(
  dets: ReadonlyArray<{ img: number; box: Box }>,
  truths: ReadonlyArray<ReadonlyArray<Box>>,
  total: number,
  threshold: number,
): number {
  if (total === 0) return 0;
  const used = truths.map((t) => new Array<boolean>(t.length).fill(false));
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const d of dets) {
    let best = -1;
    let bestIou = threshold;
    const mine = truths[d.img] ?? [];
    for (let g = 0; g < mine.length; g++) {
      if (used[d.img]![g]) continue;
      const iou = boxIou(d.box, mine[g]!);
      if (iou >= bestIou) {
        bestIou = iou;
        best = g;
      }
    }
    if (best >= 0) {
      used[d.img]![best] = true;
      tp++;
    } else fp++;
    precision.push(tp / (tp + fp));
    recall.push(tp / total);
  }
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
  let sum = 0;
  for (let r = 0; r <= 100; r++) {
    const at = r / 100;
    // the first rank whose recall reaches the point (numpy searchsorted, side "left")
    const i = recall.findIndex((v) => v >= at - 1e-12);
    sum += i >= 0 ? precision[i]! : 0;
  }
  return sum / 101;
}

/** IoU of two [x, y, w, h] boxes */
export function boxIou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}
