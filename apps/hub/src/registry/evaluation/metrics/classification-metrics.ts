import type { ClassificationMetrics } from "@kensa/contracts";
import { auroc } from "./auroc.js";
import { scoreCurves } from "./curves.js";

export interface ClassifiedImage {
  /** index of the true label */
  truth: number;
  /** index of the predicted label (argmax) */
  predicted: number;
  /** defect score for ROC-AUC (see defectScore) */
  defectScore: number;
}

/**
 * Accuracy, per-class precision/recall/F1, the confusion matrix (rows = truth, columns =
 * prediction) and defect-vs-OK ROC-AUC. Macro F1 averages the labels that occur in the truth
 * or the predictions (scikit-learn's default); a class never predicted has precision 0.
 */
export function classificationMetrics(
  images: readonly ClassifiedImage[],
  labels: readonly string[],
  okLabels: readonly string[],
): ClassificationMetrics {
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const im of images) confusion[im.truth]![im.predicted]!++;
  const perClass: ClassificationMetrics["perClass"] = {};
  const f1s: number[] = [];
  let correct = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    correct += tp;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[c]!] = { precision, recall, f1, support };
    if (support || predicted) f1s.push(f1);
  }
  const ok = new Set(okLabels);
  const hasOk = labels.some((l) => ok.has(l));
  const scores = images.map((i) => i.defectScore);
  const defective = images.map((i) => !ok.has(labels[i.truth]!));
  return {
    accuracy: images.length ? correct / images.length : 0,
    f1Macro: f1s.length ? f1s.reduce((a, b) => a + b, 0) / f1s.length : 0,
    perClass,
    confusion,
    labels: [...labels],
    auroc: hasOk ? auroc(scores, defective) : null,
    curves: hasOk ? scoreCurves(scores, defective) : null,
  };
}

/**
 * The defect-vs-OK score of one image: 1 − Σ P(OK labels) for probabilities that sum to 1
 * (softmax, or a model that applies it inside), the best non-OK score for independent
 * (sigmoid) outputs, where a sum means nothing.
 */
export function defectScore(
  scores: Readonly<Record<string, number>>,
  okLabels: readonly string[],
  activation: "softmax" | "sigmoid" | "none",
): number {
  const entries = Object.entries(scores);
  if (activation === "sigmoid") {
    return Math.max(0, ...entries.filter(([l]) => !okLabels.includes(l)).map(([, v]) => v));
  }
  return 1 - entries.filter(([l]) => okLabels.includes(l)).reduce((a, [, v]) => a + v, 0);
}
