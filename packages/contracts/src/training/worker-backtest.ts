import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable } from "../common.js";
import { ModelManifest } from "../manifest.js";
import {
  BACKTEST_MAX_LIMIT,
  BacktestBounds,
  BacktestFrame,
  BacktestFrameKind,
  BacktestReport,
} from "../registry/backtest.js";
import { WorkerBlob } from "./worker-evaluation.js";

/*
 * `kensa worker` running a backtest: the hub hands out the candidate's model and manifest, the
 * rules its bundle would carry and the archived frames of the window (each frame's media by
 * sha256); the worker replays them with the hub's own replay code and posts the report back.
 */

/** One archived frame as the replay reads it: where it came from, what the champion decided, what a person said. */
export const WorkerBacktestFrame = Type.Object({
  frameId: Type.String(),
  kind: BacktestFrameKind,
  deviceId: Nullable(Type.String()),
  /** rules keep state per source: the device's camera, or its captures */
  sourceKey: Type.String(),
  ts: Type.String(),
  incidentId: Nullable(Type.String()),
  /** null: the frame never arrived (the replay skips it as media_not_uploaded) */
  mediaSha256: Nullable(Type.String()),
  champion: Nullable(
    Type.Object({
      modelVersionId: Type.String(),
      incident: Type.Boolean(),
      label: Nullable(Type.String()),
      score: Nullable(Type.Number()),
      rule: Nullable(Type.String()),
    }),
  ),
  truth: Nullable(
    Type.Object({
      source: Type.Union([
        Type.Literal("confirmed"),
        Type.Literal("false_alarm"),
        Type.Literal("relabel"),
        Type.Literal("label"),
      ]),
      finding: Type.Boolean(),
    }),
  ),
});
export type WorkerBacktestFrame = Static<typeof WorkerBacktestFrame>;

/** A backtest job as a worker receives it. */
export const WorkerBacktestJob = Type.Object({
  jobId: Id,
  /** the claim's number: every later call for this job carries it */
  attempt: Type.Integer({ minimum: 1 }),
  leaseMs: Type.Integer(),
  backtestId: Id,
  projectId: Id,
  modelVersionId: Id,
  /** the candidate's manifest (task, input, labels, postprocessing) */
  manifest: ModelManifest,
  model: WorkerBlob,
  /**
   * the rules the candidate's bundle would carry (its own, else the project's incident rule),
   * exactly as the hub compiled them: untyped here, because a reply schema would fill in the
   * rule schema's defaults and the report would then differ from a local one; check them with `Rule`
   */
  rules: Type.Array(Type.Unknown(), { maxItems: 100 }),
  /** which frames the backtest looks at, as its report states them */
  bounds: BacktestBounds,
  /** the project's champion when the job was handed out */
  projectChampionId: Nullable(Type.String()),
  /** the frames to replay, oldest first */
  frames: Type.Array(WorkerBacktestFrame, { maxItems: BACKTEST_MAX_LIMIT }),
  /** every frame's media, each once; one the hub no longer has is answered 404 and replayed as blob_missing */
  files: Type.Array(WorkerBlob),
});
export type WorkerBacktestJob = Static<typeof WorkerBacktestJob>;

/**
 * The report as a worker posts it. Its rules are checked by the hub against the rule schema
 * itself: the body validator cannot apply the defaults the rule schema carries inside a union.
 */
export const WorkerBacktestReport = Type.Composite([
  Type.Omit(BacktestReport, ["rules"]),
  Type.Object({ rules: Type.Array(Type.Unknown(), { maxItems: 100 }) }),
]);
export type WorkerBacktestReport = Static<typeof WorkerBacktestReport>;

/** How a backtest ended on a worker: its report and frames, or why it could not run. */
export const WorkerBacktestResult = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  report: Nullable(WorkerBacktestReport),
  frames: Type.Array(BacktestFrame, { maxItems: BACKTEST_MAX_LIMIT }),
  error: Nullable(ErrorInfo),
});
export type WorkerBacktestResult = Static<typeof WorkerBacktestResult>;

export const WorkerBacktestReply = Type.Object({
  backtestId: Id,
  status: Type.Union([Type.Literal("succeeded"), Type.Literal("failed")]),
  /** true when this attempt's result had been stored already (a repeated post stores nothing) */
  duplicate: Type.Boolean(),
});
export type WorkerBacktestReply = Static<typeof WorkerBacktestReply>;
