/**
 * What a model did on each test sample, kept with its evaluation so that the gate can compare
 * two models on the same frozen samples (paired bootstrap, McNemar) without running them again.
 * Each kind holds just enough to recompute the task's gate metrics on any weighting of the
 * samples (a bootstrap resample draws a sample 0, 1, 2… times). Stored inside the evaluation's
 * metrics JSON under `outcomes`; the API does not return them.
 */
export type SampleOutcomes = ClassificationOutcomes | AnomalyOutcomes | SegmentationOutcomes | DetectionOutcomes;

interface Base {
  /** the snapshot's sample id of each scored test image, in evaluation order */
  sampleIds: string[];
}

export interface ClassificationOutcomes extends Base {
  kind: "classification";
  labels: string[];
  /** per label: an OK label (for the defect-vs-OK AUROC) */
  ok: boolean[];
  /** per sample: index of the true and the predicted label, and the defect score */
  truth: number[];
  predicted: number[];
  score: number[];
}

export interface AnomalyOutcomes extends Base {
  kind: "anomaly";
  /** per sample: 1 when anomalous in the truth, 1 when the model reported a finding, its score */
  truth: number[];
  finding: number[];
  score: number[];
}

export interface SegmentationOutcomes extends Base {
  kind: "segmentation";
  /** classes of the confusion matrix (the model's labels, plus a background class without an OK label) */
  k: number;
  /** per class: a defect class (counts towards mIoU) */
  defect: boolean[];
  /** per sample: the non-zero cells of its pixel confusion matrix, flat [truth·k + predicted, count, …] */
  cells: number[][];
}

export interface DetectionOutcomes extends Base {
  kind: "detection";
  /** the non-OK labels scored */
  labels: string[];
  /** per sample: number of true boxes per label */
  truths: number[][];
  /** per sample: its detections in the model's order, flat [label index, score, 1 if a true positive at IoU 0.5, …] */
  dets: number[][];
}

/** the outcomes restricted to (and in the order of) the given sample indices */
export function subsetOutcomes<T extends SampleOutcomes>(o: T, idx: readonly number[]): T {
  const pick = <V>(a: readonly V[]) => idx.map((i) => a[i]!);
  const sampleIds = pick(o.sampleIds);
  switch (o.kind) {
    case "classification":
      return { ...o, sampleIds, truth: pick(o.truth), predicted: pick(o.predicted), score: pick(o.score) };
    case "anomaly":
      return { ...o, sampleIds, truth: pick(o.truth), finding: pick(o.finding), score: pick(o.score) };
    case "segmentation":
      return { ...o, sampleIds, cells: pick(o.cells) };
    case "detection":
      return { ...o, sampleIds, truths: pick(o.truths), dets: pick(o.dets) };
  }
}

/** Reads the outcomes stored in an evaluation's metrics JSON, or null when it has none. */
export function storedOutcomes(metrics: unknown): SampleOutcomes | null {
  if (!metrics || typeof metrics !== "object") return null;
  const o = (metrics as { outcomes?: unknown }).outcomes;
  if (!o || typeof o !== "object") return null;
  const kind = (o as { kind?: unknown }).kind;
  const ids = (o as { sampleIds?: unknown }).sampleIds;
  if (!Array.isArray(ids)) return null;
  return kind === "classification" || kind === "anomaly" || kind === "segmentation" || kind === "detection"
    ? (o as SampleOutcomes)
    : null;
}
