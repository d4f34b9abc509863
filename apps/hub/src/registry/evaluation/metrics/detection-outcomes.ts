import type { DetectionOutcomes } from "../sample-outcomes.js";
import { boxIou, type DetectionImage } from "./detection-metrics.js";

/**
 * Per-image outcomes of a detector at IoU 0.5: true boxes per label, and each detection with
 * its score and whether it matched a truth. The matching is detectionMetrics' own (per label,
 * detections ranked by score, each taking the unmatched truth of its image it overlaps most),
 * so mAP@0.5 recomputed from these equals the evaluation's.
 */
export function detectionOutcomes(
  sampleIds: readonly string[],
  images: readonly DetectionImage[],
  labels: readonly string[],
): DetectionOutcomes {
  const truths = images.map((im) => labels.map((l) => im.truths.filter((t) => t.label === l).length));
  const dets: number[][] = images.map(() => []);
  labels.forEach((label, l) => {
    const own = images.map((im) => im.truths.filter((t) => t.label === label).map((t) => t.box));
    const used = own.map((t) => new Array<boolean>(t.length).fill(false));
    const ranked = images
      .flatMap((im, img) =>
        im.detections.filter((d) => d.label === label).map((d, k) => ({ img, k, score: d.score, box: d.box })),
      )
      .sort((a, b) => b.score - a.score);
    const flags = new Map<string, number>();
    for (const d of ranked) {
      let best = -1;
      let bestIou = 0.5;
      const mine = own[d.img]!;
      for (let g = 0; g < mine.length; g++) {
        if (used[d.img]![g]) continue;
        const iou = boxIou(d.box, mine[g]!);
        if (iou >= bestIou) {
          bestIou = iou;
          best = g;
        }
      }
      if (best >= 0) used[d.img]![best] = true;
      flags.set(`${d.img}:${d.k}`, best >= 0 ? 1 : 0);
    }
    images.forEach((im, img) => {
      const own = im.detections.filter((d) => d.label === label);
      for (const [k, d] of own.entries()) dets[img]!.push(l, d.score, flags.get(`${img}:${k}`) ?? 0);
    });
  });
  return { kind: "detection", sampleIds: [...sampleIds], labels: [...labels], truths, dets };
}
