import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, List, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { defineRoutes } from "../route.js";
import { Rule } from "../rules.js";
import { JobStatus } from "../training/job-schemas.js";

/**
 * Backtest: archived frames (incident frames, frames devices captured) replayed on the hub
 * through a candidate model and the rules its bundle would carry, compared frame by frame with
 * what the champion decided then and with what a person said about the frame.
 */

/** frames a backtest replays unless asked for fewer */
export const BACKTEST_DEFAULT_LIMIT = 1000;
/** the most frames one backtest replays: about a minute of a small model on one hub core */
export const BACKTEST_MAX_LIMIT = 10_000;
/** days back a backtest looks when no `since` is given */
export const BACKTEST_DEFAULT_DAYS = 30;

export const CreateBacktest = Type.Object(
  {
    /** the candidate: a model version of the project */
    modelVersionId: Id,
    /** frames captured at or after this time; 30 days before `until` when omitted */
    since: Type.Optional(Ts),
    /** frames captured before this time; now when omitted */
    until: Type.Optional(Ts),
    /** the most recent frames of the window, at most this many */
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: BACKTEST_MAX_LIMIT, default: BACKTEST_DEFAULT_LIMIT })),
    /** only these devices' frames; every device of the project when omitted */
    deviceIds: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000 })),
    /** replay the frames devices captured for learning too (their label is the human truth) */
    captures: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type CreateBacktest = Static<typeof CreateBacktest>;

/** Which frames the backtest looked at, as the report states them. */
export const BacktestBounds = Type.Object({
  since: Ts,
  until: Ts,
  limit: Type.Integer(),
  maxLimit: Type.Integer(),
  deviceIds: Nullable(Type.Array(Type.String())),
  captures: Type.Boolean(),
  /** archived frames in the window (events with a frame or an incident, captures) */
  inWindow: Type.Integer(),
  /** frames older than the most recent `limit` were left out */
  truncated: Type.Boolean(),
});
export type BacktestBounds = Static<typeof BacktestBounds>;

/** Decisions compared; `added`/`removed` are the candidate's changes against the champion. */
const Change = Type.Object({ added: Type.Integer(), removed: Type.Integer() });

export const BacktestCounts = Type.Object({
  /** frames replayed through the candidate */
  frames: Type.Integer(),
  /** frames that could not be replayed (media missing, undecodable) */
  skipped: Type.Integer(),
  /** replayed frames with a human verdict or label */
  judged: Type.Integer(),
  champion: Type.Object({
    /** frames whose champion decision is recorded (events; a capture has none) */
    decided: Type.Integer(),
    incidents: Type.Integer(),
    /** an incident on a frame a person rejected */
    falseAlarms: Type.Integer(),
    /** no incident on a frame a person confirmed */
    misses: Type.Integer(),
  }),
  candidate: Type.Object({ incidents: Type.Integer(), falseAlarms: Type.Integer(), misses: Type.Integer() }),
  /** on frames with a recorded champion decision */
  incidents: Change,
  /** on judged frames with a recorded champion decision */
  falseAlarms: Change,
  misses: Change,
});
export type BacktestCounts = Static<typeof BacktestCounts>;

export const BacktestGroup = Type.Intersect([Type.Object({ key: Type.String() }), BacktestCounts]);
export type BacktestGroup = Static<typeof BacktestGroup>;

export const BacktestSkipReason = Type.Union([
  /** the event expected a frame that never arrived */
  Type.Literal("media_not_uploaded"),
  /** the frame's sha256 is recorded but the blob store does not have it */
  Type.Literal("blob_missing"),
  /** the bytes do not decode as an image */
  Type.Literal("undecodable"),
]);
export type BacktestSkipReason = Static<typeof BacktestSkipReason>;

export const BacktestFrameKind = Type.Union([Type.Literal("incident"), Type.Literal("event"), Type.Literal("capture")]);

export const BacktestSkipped = Type.Object({
  frameId: Type.String(),
  kind: BacktestFrameKind,
  deviceId: Nullable(Type.String()),
  ts: Ts,
  reason: BacktestSkipReason,
  detail: Type.String(),
});
export type BacktestSkipped = Static<typeof BacktestSkipped>;

export const BacktestReport = Type.Object({
  bounds: BacktestBounds,
  /** the rules the candidate's bundle would carry (its own, else the project's incident rule) */
  rules: Type.Array(Rule),
  /** the models whose recorded decisions the candidate is compared with */
  championModelIds: Type.Array(Type.String()),
  /** the project's champion when the backtest ran */
  projectChampionId: Nullable(Type.String()),
  totals: BacktestCounts,
  perDay: Type.Array(BacktestGroup),
  perDevice: Type.Array(BacktestGroup),
  skipped: Type.Array(BacktestSkipped),
  skippedByReason: Type.Record(Type.String(), Type.Integer()),
  /** ms of replay, and frames per second of it */
  durationMs: Type.Number(),
  framesPerSecond: Type.Number(),
});
export type BacktestReport = Static<typeof BacktestReport>;

export const Backtest = Type.Object({
  id: Id,
  projectId: Id,
  modelVersionId: Id,
  status: JobStatus,
  request: Type.Object({
    since: Ts,
    until: Ts,
    limit: Type.Integer(),
    deviceIds: Nullable(Type.Array(Type.String())),
    captures: Type.Boolean(),
  }),
  jobId: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Ts,
  startedAt: Nullable(Ts),
  finishedAt: Nullable(Ts),
  error: Nullable(ErrorInfo),
  report: Nullable(BacktestReport),
});
export type Backtest = Static<typeof Backtest>;

const Decision = Type.Object({
  incident: Type.Boolean(),
  label: Nullable(Type.String()),
  score: Nullable(Type.Number()),
  /** the rule that fired */
  rule: Nullable(Type.String()),
});

export const BacktestChange = Type.Union([
  Type.Literal("added"),
  Type.Literal("removed"),
  Type.Literal("same"),
  /** no recorded champion decision (a capture) */
  Type.Literal("unknown"),
]);
export type BacktestChange = Static<typeof BacktestChange>;

/** One replayed frame: both decisions and the human truth. */
export const BacktestFrame = Type.Object({
  frameId: Type.String(),
  kind: BacktestFrameKind,
  deviceId: Nullable(Type.String()),
  ts: Ts,
  /** UTC day of `ts`, YYYY-MM-DD */
  day: Type.String(),
  incidentId: Nullable(Type.String()),
  mediaSha256: Type.String(),
  champion: Nullable(Type.Intersect([Type.Object({ modelVersionId: Type.String() }), Decision])),
  candidate: Decision,
  /** the person's word: the latest verdict on the incident, or the capture's label */
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
  change: BacktestChange,
});
export type BacktestFrame = Static<typeof BacktestFrame>;

export const BacktestQuery = Type.Object(
  {
    modelVersionId: Type.Optional(Type.String()),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);
export type BacktestQuery = Static<typeof BacktestQuery>;

export const BacktestFrameQuery = Type.Object(
  {
    change: Type.Optional(BacktestChange),
    limit: Type.Integer({ minimum: 1, maximum: BACKTEST_MAX_LIMIT, default: BACKTEST_MAX_LIMIT }),
  },
  { additionalProperties: false },
);
export type BacktestFrameQuery = Static<typeof BacktestFrameQuery>;

const IdParams = Type.Object({ id: Type.String() });

export const backtestRoutes = defineRoutes({
  create: {
    method: "POST",
    path: "/api/v1/projects/:id/backtests",
    summary: "Queue a backtest: a candidate model and its bundle's rules on the project's archived frames",
    // a backtest is an evaluation on field frames: the right to evaluate models
    permission: "runs:manage",
    params: IdParams,
    body: CreateBacktest,
    status: 202,
    reply: Backtest,
    errors: [
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_MODEL_NOT_FOUND",
      "KENSA_ERR_BACKTEST_MODEL_PROJECT_MISMATCH",
      "KENSA_ERR_BACKTEST_RANGE_INVALID",
      "KENSA_ERR_BACKTEST_NO_FRAMES",
    ],
  },
  list: {
    method: "GET",
    path: "/api/v1/projects/:id/backtests",
    summary: "A project's backtests, newest first",
    permission: "models:read",
    params: IdParams,
    query: BacktestQuery,
    reply: List(Backtest),
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  get: {
    method: "GET",
    path: "/api/v1/backtests/:id",
    summary: "One backtest with its report",
    permission: "models:read",
    params: IdParams,
    reply: Backtest,
    errors: ["KENSA_ERR_BACKTEST_NOT_FOUND"],
  },
  frames: {
    method: "GET",
    path: "/api/v1/backtests/:id/frames",
    summary: "A finished backtest's frames, each with both decisions and the human truth",
    permission: "models:read",
    params: IdParams,
    query: BacktestFrameQuery,
    reply: List(BacktestFrame),
    errors: ["KENSA_ERR_BACKTEST_NOT_FOUND"],
  },
});
