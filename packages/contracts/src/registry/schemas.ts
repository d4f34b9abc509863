import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { Deployment } from "../fleet/schemas.js";
import { Sha256 } from "../manifest.js";
import { JobStatus } from "../training/job-schemas.js";
import { GateCriteria, TrainingRun } from "../training/schemas.js";
import { ModelVersion } from "./models.js";

/*
 * Training runs, evaluations, the champion/challenger gate, approvals and model cards: the
 * HTTP schemas of the hub's model registry. docs/training.md describes them in prose.
 */

const ClassCounts = Type.Object({
  precision: Type.Number(),
  recall: Type.Number(),
  f1: Type.Number(),
  /** test images whose true label is this class */
  support: Type.Integer(),
});

/** Defect-vs-OK curves of a test split, one point per score threshold (thinned to ≤ 101). */
export const ScoreCurves = Type.Object({
  roc: Type.Array(Type.Object({ threshold: Type.Number(), fpr: Type.Number(), tpr: Type.Number() })),
  pr: Type.Array(Type.Object({ threshold: Type.Number(), recall: Type.Number(), precision: Type.Number() })),
});
export type ScoreCurves = Static<typeof ScoreCurves>;

export const ClassificationMetrics = Type.Object({
  accuracy: Type.Number(),
  f1Macro: Type.Number(),
  perClass: Type.Record(Type.String(), ClassCounts),
  /** rows = true label, columns = predicted label, in `labels` order */
  confusion: Type.Array(Type.Array(Type.Integer())),
  labels: Type.Array(Type.String()),
  /** defect-vs-OK ROC-AUC with score = 1 − Σ P(OK labels); null without OK labels or one class only */
  auroc: Nullable(Type.Number()),
  /** the ROC and precision–recall curves behind `auroc`; absent on evaluations stored before they existed */
  curves: Type.Optional(Nullable(ScoreCurves)),
});
export type ClassificationMetrics = Static<typeof ClassificationMetrics>;

export const SegmentationMetrics = Type.Object({
  /** per label: IoU and Dice over every test pixel (at the model's output resolution) */
  perClass: Type.Record(
    Type.String(),
    Type.Object({ iou: Type.Number(), dice: Type.Number(), pixels: Type.Integer() }),
  ),
  /** mean IoU over the non-OK labels present in the truth or the prediction */
  miou: Type.Number(),
  /** defect (any non-OK label) vs background */
  defect: Type.Object({ iou: Type.Number(), dice: Type.Number() }),
  /** defect-vs-background per-pixel ROC-AUC with score = 1 − Σ P(OK labels); binned (4096 bins) */
  pixelAuroc: Nullable(Type.Number()),
  pixels: Type.Integer(),
});
export type SegmentationMetrics = Static<typeof SegmentationMetrics>;

export const DetectionMetrics = Type.Object({
  /** COCO-style: 101-point interpolated AP at IoU 0.5, mean over classes with ground truth */
  map50: Type.Number(),
  /** the same averaged over IoU 0.50, 0.55, …, 0.95 */
  map50_95: Type.Number(),
  perClass: Type.Record(
    Type.String(),
    Type.Object({ ap50: Type.Number(), ap50_95: Type.Number(), truths: Type.Integer(), detections: Type.Integer() }),
  ),
});
export type DetectionMetrics = Static<typeof DetectionMetrics>;

export const LatencyStats = Type.Object({
  /** ms per image: decode + preprocess + inference + postprocess, one at a time, after a warm-up */
  p50: Type.Number(),
  p95: Type.Number(),
  mean: Type.Number(),
  samples: Type.Integer(),
});
export type LatencyStats = Static<typeof LatencyStats>;

/** The gate's view of one evaluated model: headline metrics and the per-class metric. */
export const MetricSummary = Type.Object({
  values: Type.Record(Type.String(), Type.Number(), {
    description: "the task's headline metrics (docs/training.md); the gate reads its primary metric's name",
  }),
  /** per label: F1 (classification), IoU (segmentation) or AP@0.5 (detection) */
  perClass: Type.Record(Type.String(), Type.Number()),
  latency: LatencyStats,
});
export type MetricSummary = Static<typeof MetricSummary>;

export const EvaluationMetrics = Type.Composite([
  MetricSummary,
  Type.Object({
    task: Type.String(),
    /** test images scored */
    samples: Type.Integer(),
    classification: Type.Optional(ClassificationMetrics),
    segmentation: Type.Optional(SegmentationMetrics),
    detection: Type.Optional(DetectionMetrics),
    /** the model's int8 variant on the same images, when it has one */
    int8: Type.Optional(MetricSummary),
  }),
]);
export type EvaluationMetrics = Static<typeof EvaluationMetrics>;

export const Evaluation = Type.Object({
  id: Id,
  modelVersionId: Id,
  snapshotId: Sha256,
  split: Type.Literal("test"),
  status: JobStatus,
  metrics: Nullable(EvaluationMetrics),
  error: Nullable(ErrorInfo),
  createdAt: Ts,
  finishedAt: Nullable(Ts),
});
export type Evaluation = Static<typeof Evaluation>;

export const CreateEvaluation = Type.Object(
  {
    /** the snapshot whose test split to score on; the project's evaluation snapshot when omitted */
    snapshotId: Type.Optional(Sha256),
  },
  { additionalProperties: false },
);
export type CreateEvaluation = Static<typeof CreateEvaluation>;

// ---- gate -------------------------------------------------------------------------------

export const GateDecision = Type.Union([
  Type.Literal("auto_approved"),
  Type.Literal("awaiting_approval"),
  Type.Literal("rejected"),
]);
export type GateDecision = Static<typeof GateDecision>;

export const GateCriterionResult = Type.Object({
  /** primary_floor | test_samples | primary_improvement | first_model | class_regression | latency_p95 | int8_drop */
  name: Type.String(),
  description: Type.String(),
  /** a hard criterion that fails rejects the challenger; a soft one leaves it to a person */
  hard: Type.Boolean(),
  threshold: Nullable(Type.Number()),
  champion: Nullable(Type.Number()),
  challenger: Nullable(Type.Number()),
  pass: Type.Boolean(),
  note: Type.Optional(Type.String()),
});
export type GateCriterionResult = Static<typeof GateCriterionResult>;

/** A metric with its confidence interval. */
export const MetricInterval = Type.Object({
  value: Type.Number(),
  low: Type.Number(),
  high: Type.Number(),
  /** "wilson": Wilson score interval of a proportion (accuracy); "bootstrap": percentile bootstrap */
  method: Type.Union([Type.Literal("wilson"), Type.Literal("bootstrap")]),
});
export type MetricInterval = Static<typeof MetricInterval>;

/**
 * What the gate measured about the primary metric on the frozen test samples: each model's
 * value with its interval and, over a champion, the paired difference with its interval, the
 * test and a power note. docs/training.md, "How the gate decides", explains how to read it.
 */
export const GateEvidence = Type.Object({
  metric: Type.String(),
  /** the confidence level of every interval here (0.95 = 95 %) */
  confidence: Type.Number(),
  /** test samples the evidence rests on: scored for both models (paired), or the challenger's */
  samples: Type.Integer(),
  challenger: MetricInterval,
  champion: Nullable(MetricInterval),
  /** challenger − champion on the same samples; null without a champion */
  difference: Nullable(
    Type.Object({
      value: Type.Number(),
      low: Type.Number(),
      high: Type.Number(),
      /** standard error of the difference (standard deviation of the bootstrap differences) */
      se: Type.Number(),
      method: Type.Literal("paired_bootstrap"),
      resamples: Type.Integer(),
      seed: Type.Integer(),
    }),
  ),
  /** true when both models have the same outcome on every paired sample */
  identical: Type.Boolean(),
  /**
   * "mcnemar_exact": two-sided exact McNemar test on per-sample correctness (classification,
   * anomaly); "paired_bootstrap": share of resampled differences at or below minImprovement
   */
  test: Nullable(
    Type.Object({
      name: Type.Union([Type.Literal("mcnemar_exact"), Type.Literal("paired_bootstrap")]),
      pValue: Type.Number(),
      /** McNemar: samples only the challenger got right, and only the champion got right */
      challengerOnly: Type.Optional(Type.Integer()),
      championOnly: Type.Optional(Type.Integer()),
    }),
  ),
  /** how many test samples would show the observed difference (80 % power); null when none would */
  power: Nullable(Type.Object({ neededSamples: Nullable(Type.Integer()), note: Type.String() })),
  /** why the evidence could not be computed, or what limits it */
  note: Type.Optional(Type.String()),
});
export type GateEvidence = Static<typeof GateEvidence>;

export const GateReport = Type.Object({
  id: Id,
  modelVersionId: Id,
  /** the champion at decision time; null for a project's first model */
  championId: Nullable(Type.String()),
  snapshotId: Sha256,
  criteria: GateCriteria,
  results: Type.Array(GateCriterionResult),
  decision: GateDecision,
  reason: Type.String(),
  /**
   * the decision in one code: approved | manual_approval | tie | not_significant | too_few_samples |
   * no_evidence | evaluation_failed | first_model | or the name of the criterion that decided
   * (primary_floor, latency_p95, class_regression, int8_drop, primary_improvement); absent on
   * reports made before it existed
   */
  reasonCode: Type.Optional(Type.String()),
  /** intervals, the paired difference and its test; absent on reports made before evidence */
  evidence: Type.Optional(Nullable(GateEvidence)),
  /** the deployment made because the model was approved and the project auto-deploys */
  deploymentId: Nullable(Type.String()),
  createdAt: Ts,
});
export type GateReport = Static<typeof GateReport>;

export const RunGate = Type.Object(
  {
    /** evaluate on this snapshot instead of the project's evaluation snapshot */
    snapshotId: Type.Optional(Sha256),
  },
  { additionalProperties: false },
);
export type RunGate = Static<typeof RunGate>;

/** Reply of `POST /models/:id/gate`: the queued gate job. */
export const GateQueued = Type.Object({ jobId: Type.String() });
export type GateQueued = Static<typeof GateQueued>;

// ---- approvals, champion, settings ------------------------------------------------------

export const ApprovalAction = Type.Union([Type.Literal("approve"), Type.Literal("reject"), Type.Literal("archive")]);
export type ApprovalAction = Static<typeof ApprovalAction>;

export const Approval = Type.Object({
  id: Id,
  modelVersionId: Id,
  action: ApprovalAction,
  /** a person, or "gate" for the gate's own decisions */
  by: Type.String(),
  reason: Type.String(),
  fromStage: Type.String(),
  toStage: Type.String(),
  createdAt: Ts,
});
export type Approval = Static<typeof Approval>;

export const Decide = Type.Object(
  {
    by: Type.String({ minLength: 1, maxLength: 200 }),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    /** approve only: deploy to the project's autoDeploy targets (default true) */
    deploy: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type Decide = Static<typeof Decide>;

/**
 * Reply of approve, reject and archive. The decision is committed even when the deployment
 * that follows an approval fails; `deploymentError` then says why (e.g. no device matches).
 */
export const DecideReply = Type.Object({
  model: ModelVersion,
  deployment: Nullable(Deployment),
  deploymentError: Nullable(ErrorInfo),
});
export type DecideReply = Static<typeof DecideReply>;

export const Champion = Type.Object({
  projectId: Id,
  modelVersionId: Nullable(Type.String()),
  since: Nullable(Ts),
});
export type Champion = Static<typeof Champion>;

/** `GET /models/:id/details`: everything `kensa model show` prints. */
export const ModelDetails = Type.Object({
  modelVersionId: Id,
  champion: Type.Boolean(),
  run: Nullable(TrainingRun),
  evaluations: Type.Array(Evaluation),
  gate: Nullable(GateReport),
  approvals: Type.Array(Approval),
});
export type ModelDetails = Static<typeof ModelDetails>;
