import type { ClassificationMetrics, DetectionMetrics, SegmentationMetrics } from "@kensa/contracts";

/*
 * `metrics.values`: every headline metric of a task, the numbers `kensa model show`, the model
 * card and the console list for an evaluation (issue 17: the detector's mAP@0.5:0.95 was only in
 * the raw `detection` block). Names that are GateMetrics (accuracy, f1_macro, auroc, miou, map50)
 * are what the gate reads, so they never change meaning.
 */

/** The keys of `metrics.values` per task, in the order they are printed (auroc: when defined). */
export const headlineKeys = {
  classification: ["accuracy", "balanced_accuracy", "f1_macro", "auroc"],
  segmentation: ["miou", "mdice", "defect_iou", "defect_dice", "auroc"],
  detection: ["map50", "map50_95"],
  anomaly: ["accuracy", "auroc"],
} as const;

/** accuracy, balanced accuracy (mean recall over labels in the truth), macro F1, defect-vs-OK AUROC */
export function classificationValues(m: ClassificationMetrics): Record<string, number> {
  const recalls = Object.values(m.perClass)
    .filter((c) => c.support > 0)
    .map((c) => c.recall);
  const values: Record<string, number> = {
    accuracy: m.accuracy,
    balanced_accuracy: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : 0,
    f1_macro: m.f1Macro,
  };
  if (m.auroc !== null) values.auroc = m.auroc;
  return values;
}

/**
 * mean IoU and mean Dice over the defect labels present in truth or prediction, defect-vs-
 * background IoU and Dice, and pixel AUROC. `okLabels` are the accumulator's OK labels.
 */
export function segmentationValues(m: SegmentationMetrics, okLabels: readonly string[]): Record<string, number> {
  // the accumulator scores a label absent from truth and prediction IoU 1 with 0 pixels; any
  // other label (pixels in the truth, or predicted: IoU < 1) is one miou averages over
  const present = Object.entries(m.perClass).filter(([l, c]) => !okLabels.includes(l) && (c.pixels > 0 || c.iou < 1));
  const values: Record<string, number> = {
    miou: m.miou,
    mdice: present.length ? present.reduce((a, [, c]) => a + c.dice, 0) / present.length : 1,
    defect_iou: m.defect.iou,
    defect_dice: m.defect.dice,
  };
  if (m.pixelAuroc !== null) values.auroc = m.pixelAuroc;
  return values;
}

/** mAP@0.5 and mAP@0.5:0.95 (COCO 101-point, mean over classes with ground truth) */
export function detectionValues(m: DetectionMetrics): Record<string, number> {
  return { map50: m.map50, map50_95: m.map50_95 };
}
