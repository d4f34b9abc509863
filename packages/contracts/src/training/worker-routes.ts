import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";
import { defineRoutes } from "../route.js";
import { TrainerJob } from "../trainer.js";
import { WorkerBacktestJob, WorkerBacktestReply, WorkerBacktestResult } from "./worker-backtest.js";
import {
  WorkerExportJob,
  WorkerExportReply,
  WorkerExportResult,
  WorkerImportJob,
  WorkerImportProgress,
  WorkerImportReply,
  WorkerImportResult,
  WorkerUploadParams,
} from "./worker-datasets.js";
import {
  WorkerBlobParams,
  WorkerEvaluationJob,
  WorkerEvaluationReply,
  WorkerEvaluationResult,
  WorkerJobKind,
} from "./worker-evaluation.js";

export * from "./worker-backtest.js";
export * from "./worker-datasets.js";
export * from "./worker-evaluation.js";

/*
 * `kensa worker`: training, evaluation and backtests on another machine. A worker authenticates
 * with a worker token (Authorization: Bearer kensa_wkr_…; the hub checks it against
 * `training.remote.tokens`, so these routes are "public" to the people/device authentication and
 * checked by the worker routes themselves), claims a job, follows its lease, and reports the outcome.
 * docs/training.md ("Workers") describes the protocol in prose.
 */

/** What a worker machine offers; jobs whose trainer requires more are left to others. */
export const WorkerCapabilities = Type.Object({
  cpuCores: Type.Integer({ minimum: 1 }),
  memoryMb: Type.Integer({ minimum: 1 }),
  cuda: Type.Boolean(),
  /** trainer names this worker can run ("builtin" and any it was configured with) */
  trainers: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 }),
  /** the worker's kensa version and, when known, its built-in trainer's */
  version: Type.String({ maxLength: 100 }),
  /** the kinds of job this worker runs; training only when omitted */
  jobs: Type.Optional(Type.Array(WorkerJobKind, { maxItems: 8 })),
});
export type WorkerCapabilities = Static<typeof WorkerCapabilities>;

/** Every call names the worker process (a fresh id per start) and what it offers. */
export const WorkerHello = Type.Object({
  workerId: Type.String({ pattern: "^[A-Za-z0-9._:-]{1,120}$" }),
  capabilities: WorkerCapabilities,
});
export type WorkerHello = Static<typeof WorkerHello>;

export const WorkerHelloReply = Type.Object({
  /** ms a claim lasts unless renewed; renew well within it (a third) */
  leaseMs: Type.Integer(),
  /** ms between claims when the queue was empty */
  pollMs: Type.Integer(),
});
export type WorkerHelloReply = Static<typeof WorkerHelloReply>;

/** One input file of a claimed job: fetch `url` (absolute, presigned) when given, else the hub's data route. */
export const WorkerFile = Type.Object({
  /** relative to the job's folder on the worker: `data/<name>` */
  path: Type.String({ pattern: "^data/[A-Za-z0-9._-]+$" }),
  /** checked after download when the file is a stored blob (images); null for files the hub made (masks) */
  sha256: Nullable(Sha256),
  url: Nullable(Type.String()),
});
export type WorkerFile = Static<typeof WorkerFile>;

/** A job as a worker receives it: the trainer job spec with paths relative to the job's folder. */
export const WorkerJob = Type.Object({
  jobId: Id,
  /** the claim's number: every later call for this job carries it */
  attempt: Type.Integer({ minimum: 1 }),
  runId: Id,
  trainer: Type.String(),
  leaseMs: Type.Integer(),
  spec: TrainerJob,
  files: Type.Array(WorkerFile),
});
export type WorkerJob = Static<typeof WorkerJob>;

export const WorkerClaimReply = Type.Object({
  /** a training job, or null */
  job: Nullable(WorkerJob),
  /** an evaluate job (only to workers whose capabilities list "evaluate"), or null */
  evaluation: Type.Optional(Nullable(WorkerEvaluationJob)),
  /** a backtest job (only to workers whose capabilities list "backtest"), or null */
  backtest: Type.Optional(Nullable(WorkerBacktestJob)),
  /** a dataset import (only to workers whose capabilities list "import"), or null */
  import: Type.Optional(Nullable(WorkerImportJob)),
  /** a dataset export (only to workers whose capabilities list "export"), or null */
  export: Type.Optional(Nullable(WorkerExportJob)),
});
export type WorkerClaimReply = Static<typeof WorkerClaimReply>;

export const WorkerAttempt = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
});
export type WorkerAttempt = Static<typeof WorkerAttempt>;

export const WorkerJobParams = Type.Object({ id: Type.String() });
export const WorkerFileParams = Type.Object({ id: Type.String(), name: Type.String({ pattern: "^[A-Za-z0-9._-]+$" }) });
export const WorkerOutputParams = Type.Object({
  id: Type.String(),
  name: Type.Union([
    Type.Literal("model.onnx"),
    Type.Literal("model.int8.onnx"),
    Type.Literal("manifest.json"),
    Type.Literal("metrics.json"),
  ]),
});
export type WorkerOutputName = Static<typeof WorkerOutputParams>["name"];

/** Log text as the trainer wrote it; the hub applies its progress lines as it does for local runs. */
export const WorkerProgress = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  lines: Type.Array(
    Type.Object({
      stream: Type.Union([Type.Literal("stdout"), Type.Literal("stderr"), Type.Literal("worker")]),
      text: Type.String({ maxLength: 65_536 }),
    }),
    { maxItems: 5000 },
  ),
});
export type WorkerProgress = Static<typeof WorkerProgress>;

export const WorkerComplete = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  /** the uploaded outputs by name (each uploaded before with the output route) */
  outputs: Type.Record(Type.String(), Sha256),
});
export type WorkerComplete = Static<typeof WorkerComplete>;

export const WorkerCompleteReply = Type.Object({
  runId: Id,
  modelVersionId: Nullable(Id),
  /** true when this job had already been completed (a repeated completion registers nothing) */
  duplicate: Type.Boolean(),
  /** when the outputs were refused (the run failed instead), why */
  error: Nullable(ErrorInfo),
});
export type WorkerCompleteReply = Static<typeof WorkerCompleteReply>;

export const WorkerFail = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  error: ErrorInfo,
  exitCode: Nullable(Type.Integer()),
});
export type WorkerFail = Static<typeof WorkerFail>;

/** A worker the hub heard from, for admins. */
export const WorkerInfo = Type.Object({
  workerId: Type.String(),
  token: Type.String(),
  capabilities: WorkerCapabilities,
  lastSeenAt: Ts,
  jobs: Type.Array(Id),
});
export type WorkerInfo = Static<typeof WorkerInfo>;

const LEASE = ["KENSA_ERR_WORKER_TOKEN_INVALID", "KENSA_ERR_WORKER_LEASE_LOST", "KENSA_ERR_JOB_NOT_FOUND"] as const;

export const workerRoutes = defineRoutes({
  hello: {
    method: "POST",
    path: "/api/v1/workers/hello",
    summary: "A worker announces itself and its capabilities (worker token); also its heartbeat",
    auth: "public",
    body: WorkerHello,
    reply: WorkerHelloReply,
    errors: ["KENSA_ERR_WORKER_TOKEN_INVALID"],
  },
  claim: {
    method: "POST",
    path: "/api/v1/workers/claim",
    summary:
      "Claim the oldest queued job (training, evaluation or backtest) this worker can run (worker token); all null when none",
    auth: "public",
    body: WorkerHello,
    reply: WorkerClaimReply,
    errors: ["KENSA_ERR_WORKER_TOKEN_INVALID"],
  },
  renew: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/renew",
    summary: "Extend the lease on a claimed job (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerAttempt,
    reply: WorkerHelloReply,
    // a person cancelled the run: stop the trainer and report the job failed as cancelled
    errors: [...LEASE, "KENSA_ERR_TRAINER_CANCELLED"],
  },
  progress: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/progress",
    summary: "Append trainer output to the run's log and progress (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerProgress,
    status: 204,
    errors: [...LEASE, "KENSA_ERR_TRAINER_CANCELLED"],
  },
  file: {
    method: "GET",
    path: "/api/v1/workers/jobs/:id/data/:name",
    summary: "One input file of a claimed job (worker token)",
    auth: "public",
    params: WorkerFileParams,
    query: WorkerAttempt,
    produces: { kind: "bytes", types: ["application/octet-stream"] },
    errors: [...LEASE, "KENSA_ERR_BLOB_NOT_FOUND"],
  },
  output: {
    method: "PUT",
    path: "/api/v1/workers/jobs/:id/outputs/:name",
    summary: "Upload one output of a claimed job into the blob store (worker token)",
    auth: "public",
    params: WorkerOutputParams,
    query: WorkerAttempt,
    upload: { kind: "bytes", types: ["application/octet-stream"] },
    reply: Type.Object({ sha256: Sha256, size: Type.Integer() }),
    errors: LEASE,
  },
  complete: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/complete",
    summary: "The trainer exited 0: register its model (once per job, whatever repeats) and queue the gate",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerComplete,
    reply: WorkerCompleteReply,
    errors: LEASE,
  },
  fail: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/fail",
    summary: "The trainer failed: fail the run with the trainer's reason (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerFail,
    status: 204,
    errors: LEASE,
  },
  release: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/release",
    summary: "Give a claimed job back at once (the worker is stopping): it is queued again",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerAttempt,
    status: 204,
    errors: LEASE,
  },
  blob: {
    method: "GET",
    path: "/api/v1/workers/jobs/:id/blobs/:sha256",
    summary:
      "One blob a claimed evaluate or backtest job reads: its model, a test image or mask, a frame (worker token)",
    auth: "public",
    params: WorkerBlobParams,
    query: WorkerAttempt,
    produces: { kind: "bytes", types: ["application/octet-stream"] },
    errors: [...LEASE, "KENSA_ERR_BLOB_NOT_FOUND"],
  },
  evaluation: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/evaluation",
    summary: "The result of a claimed evaluate job: stored once, as a local evaluation is (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerEvaluationResult,
    reply: WorkerEvaluationReply,
    errors: [...LEASE, "KENSA_ERR_VALIDATION"],
  },
  backtest: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/backtest",
    summary: "The result of a claimed backtest job: stored once, as a local backtest is (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerBacktestResult,
    reply: WorkerBacktestReply,
    errors: [...LEASE, "KENSA_ERR_VALIDATION"],
  },
  upload: {
    method: "PUT",
    path: "/api/v1/workers/jobs/:id/uploads/:sha256",
    summary:
      "Store one blob a claimed import or export job made (an image, a mask, an archive); refused unless it hashes to :sha256 (worker token)",
    auth: "public",
    params: WorkerUploadParams,
    query: WorkerAttempt,
    upload: { kind: "bytes", types: ["application/octet-stream"] },
    reply: Type.Object({ sha256: Sha256, size: Type.Integer() }),
    errors: [...LEASE, "KENSA_ERR_BLOB_DIGEST_MISMATCH", "KENSA_ERR_UPLOAD_TOO_LARGE"],
  },
  importProgress: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/import-progress",
    summary: "How far a claimed import is (items decoded of items planned); also renews the lease (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerImportProgress,
    reply: WorkerHelloReply,
    errors: LEASE,
  },
  importResult: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/import",
    summary:
      "The prepared rows of a claimed import: committed once, in one transaction, as a local import is (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerImportResult,
    reply: WorkerImportReply,
    errors: [...LEASE, "KENSA_ERR_VALIDATION", "KENSA_ERR_BLOB_NOT_FOUND"],
  },
  exportResult: {
    method: "POST",
    path: "/api/v1/workers/jobs/:id/export",
    summary: "The uploaded archive of a claimed export: recorded once (worker token)",
    auth: "public",
    params: WorkerJobParams,
    body: WorkerExportResult,
    reply: WorkerExportReply,
    errors: [...LEASE, "KENSA_ERR_VALIDATION", "KENSA_ERR_BLOB_NOT_FOUND"],
  },
  list: {
    method: "GET",
    path: "/api/v1/workers",
    summary: "Workers this hub heard from recently, with their capabilities and jobs",
    permission: "runs:read",
    reply: Type.Object({ items: Type.Array(WorkerInfo) }),
  },
});
