import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";

/* The hub's persistent job queue: its entries and how they are listed (docs/training.md). */

export const JobType = Type.Union([
  Type.Literal("train"),
  Type.Literal("evaluate"),
  Type.Literal("gate"),
  Type.Literal("backtest"),
  Type.Literal("import"),
  Type.Literal("export"),
]);
export type JobType = Static<typeof JobType>;

export const JobStatus = Type.Union([
  Type.Literal("queued"),
  Type.Literal("running"),
  Type.Literal("succeeded"),
  Type.Literal("failed"),
  Type.Literal("cancelled"),
]);
export type JobStatus = Static<typeof JobStatus>;

/** One entry of the hub's persistent job queue (training runs, evaluations, gate decisions). */
export const Job = Type.Object({
  id: Id,
  type: JobType,
  projectId: Id,
  /** the run, evaluation or model version the job works on */
  refId: Id,
  status: JobStatus,
  attempts: Type.Integer(),
  error: Nullable(ErrorInfo),
  createdAt: Ts,
  startedAt: Nullable(Ts),
  finishedAt: Nullable(Ts),
});
export type Job = Static<typeof Job>;

export const JobQuery = Type.Object(
  {
    status: Type.Optional(JobStatus),
    type: Type.Optional(JobType),
    projectId: Type.Optional(Type.String()),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
export type JobQuery = Static<typeof JobQuery>;

export const JobIdParams = Type.Object({ id: Type.String() });
export type JobIdParams = Static<typeof JobIdParams>;
