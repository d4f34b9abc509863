/** How the gate's metric keys read to a person. */
export const METRIC_NAMES: Record<string, string> = {
  accuracy: "accuracy",
  f1_macro: "F1 (macro)",
  auroc: "ROC-AUC (defect vs OK)",
  miou: "mean IoU",
  map50: "mAP@0.5",
};

export const metricName = (k: string) => METRIC_NAMES[k] ?? k;

export const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits);
