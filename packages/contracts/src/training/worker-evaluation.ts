import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable } from "../common.js";
import { LabelContent } from "../datasets/samples.js";
import { ModelManifest, Sha256 } from "../manifest.js";
import { EvaluationMetrics } from "../registry/schemas.js";

/*
 * `kensa worker` evaluating a model version on a snapshot's test split: the hub hands out what
 * the evaluation reads (the model's files, the test items with their labels, every image and
 * mask by sha256), the worker runs the hub's own evaluation code and posts the metrics back.
 */

/** The kinds of job a worker runs; a worker that does not say runs training jobs only. */
export const WorkerJobKind = Type.Union([
  Type.Literal("train"),
  Type.Literal("evaluate"),
  Type.Literal("backtest"),
  Type.Literal("import"),
  Type.Literal("export"),
]);
export type WorkerJobKind = Static<typeof WorkerJobKind>;

/** One stored blob an evaluation reads: fetch `url` (absolute, presigned) when given, else the hub's blob route. */
export const WorkerBlob = Type.Object({
  sha256: Sha256,
  url: Nullable(Type.String()),
});
export type WorkerBlob = Static<typeof WorkerBlob>;

/** One test image of the snapshot, as the evaluation reads it. */
export const WorkerEvalItem = Type.Object({
  sampleId: Type.String(),
  image: Type.Object({ sha256: Sha256, width: Type.Integer({ minimum: 1 }), height: Type.Integer({ minimum: 1 }) }),
  label: Type.Object({ content: LabelContent }),
});
export type WorkerEvalItem = Static<typeof WorkerEvalItem>;

/** An evaluate job as a worker receives it. */
export const WorkerEvaluationJob = Type.Object({
  jobId: Id,
  /** the claim's number: every later call for this job carries it */
  attempt: Type.Integer({ minimum: 1 }),
  leaseMs: Type.Integer(),
  evaluationId: Id,
  modelVersionId: Id,
  snapshotId: Sha256,
  /** the model version's manifest (task, input, labels, postprocessing) */
  manifest: ModelManifest,
  model: WorkerBlob,
  /** the int8 variant, scored on the same images, when the version has one */
  int8: Nullable(WorkerBlob),
  /** the snapshot's OK labels */
  okLabels: Type.Array(Type.String()),
  items: Type.Array(WorkerEvalItem),
  /** every blob the items name (images, masks), each once */
  files: Type.Array(WorkerBlob),
});
export type WorkerEvaluationJob = Static<typeof WorkerEvaluationJob>;

/** The metrics as the hub stores them: the public metrics plus per-sample outcomes and the drift reference. */
export const WorkerEvaluationMetrics = Type.Composite([
  EvaluationMetrics,
  Type.Object({ outcomes: Type.Optional(Type.Unknown()), drift: Type.Optional(Type.Unknown()) }),
]);
export type WorkerEvaluationMetrics = Static<typeof WorkerEvaluationMetrics>;

/** How an evaluation ended on a worker: its metrics, or why the model could not be scored. */
export const WorkerEvaluationResult = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  metrics: Nullable(WorkerEvaluationMetrics),
  error: Nullable(ErrorInfo),
});
export type WorkerEvaluationResult = Static<typeof WorkerEvaluationResult>;

export const WorkerEvaluationReply = Type.Object({
  evaluationId: Id,
  status: Type.Union([Type.Literal("succeeded"), Type.Literal("failed")]),
  /** true when this attempt's result had been stored already (a repeated post stores nothing) */
  duplicate: Type.Boolean(),
});
export type WorkerEvaluationReply = Static<typeof WorkerEvaluationReply>;

export const WorkerBlobParams = Type.Object({ id: Type.String(), sha256: Sha256 });
