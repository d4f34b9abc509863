import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, List, Timestamp as Ts } from "../common.js";
import { defineRoutes } from "../route.js";
import { DeploymentPrecision } from "./bundle-targets.js";

/**
 * A staged rollout (docs/rollouts.md): a model version goes to a canary wave, then waves that
 * grow by a factor, each baked for a while and judged on what the model does in the field
 * against a control group still on the champion. A breached gate pauses the rollout and sends
 * the wave's devices back to the bundle they ran before.
 */
export const RolloutState = Type.Union([
  Type.Literal("planned"),
  Type.Literal("running"),
  Type.Literal("paused"),
  Type.Literal("rolled_back"),
  Type.Literal("completed"),
  Type.Literal("aborted"),
]);
export type RolloutState = Static<typeof RolloutState>;

/** `deploy`: the challenger replaces the champion wave by wave; `shadow`: it runs beside it, never raising incidents */
export const RolloutMode = Type.Union([Type.Literal("deploy"), Type.Literal("shadow")]);
export type RolloutMode = Static<typeof RolloutMode>;

export const RolloutStrategy = Type.Object(
  {
    /** named canary devices; when empty, `canaryPercent` of the target (at least one device) */
    canaryDeviceIds: Type.Array(Type.String(), { default: [] }),
    canaryPercent: Type.Number({ minimum: 0.1, maximum: 100, default: 10 }),
    /** each wave after the canary is this many times the previous one */
    factor: Type.Number({ minimum: 1, maximum: 100, default: 2 }),
    /** seconds a wave runs before its gates may pass it */
    bakeSeconds: Type.Integer({ minimum: 0, maximum: 30 * 86_400, default: 3600 }),
    /**
     * a wave that still lacks the gates' minimum evidence this long after it started pauses the
     * rollout (nothing passes silently); default 4 × the bake time, at least 15 minutes
     */
    evidenceTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 * 86_400 })),
  },
  { additionalProperties: false },
);
export type RolloutStrategy = Static<typeof RolloutStrategy>;

export const GateName = Type.Union([
  Type.Literal("install"),
  Type.Literal("restarts"),
  Type.Literal("latency"),
  Type.Literal("incident_rate"),
  Type.Literal("false_alarms"),
  Type.Literal("shadow_agreement"),
  Type.Literal("frame_rate"),
  Type.Literal("backtest"),
]);
export type GateName = Static<typeof GateName>;

/** What a wave must show before it passes; each figure is compared with the control group in the same window. */
export const RolloutGates = Type.Object(
  {
    /** frames each group (wave, control) must have inferred before a rate gate may pass */
    minFrames: Type.Integer({ minimum: 1, default: 200 }),
    /** human verdicts on the wave's incidents before the false-alarm gate may pass (0: gate off) */
    minVerdicts: Type.Integer({ minimum: 0, default: 0 }),
    /** one-sided significance level of the rate tests */
    alpha: Type.Number({ exclusiveMinimum: 0, maximum: 0.5, default: 0.01 }),
    /** install or self-test failures tolerated in a wave */
    maxInstallFailures: Type.Integer({ minimum: 0, default: 0 }),
    /** inference session restarts tolerated in a wave */
    maxRestarts: Type.Integer({ minimum: 0, default: 2 }),
    /** the wave's p95 latency may be at most this times each device's own before the wave */
    maxLatencyRatio: Type.Number({ minimum: 1, default: 1.5 }),
    /** the wave's incident rate may be at most this times the control's (and significantly so to breach) */
    maxIncidentRateRatio: Type.Number({ minimum: 1, default: 1.5 }),
    /** the wave's false alarms per frame may be at most this times the control's */
    maxFalseAlarmRatio: Type.Number({ minimum: 1, default: 1.5 }),
    /** shadow mode: the lower bound of the agreement's 95 % interval must reach this */
    minShadowAgreement: Type.Number({ minimum: 0, maximum: 1, default: 0.9 }),
    /** the wave's frame rate must stay at least this share of each device's own before the wave */
    minFrameRateRatio: Type.Number({ minimum: 0, maximum: 1, default: 0.8 }),
    /**
     * the rollout needs a finished backtest of the version (docs/backtest.md): it waits for one,
     * and breaches when the candidate missed more confirmed defects on the archive than the
     * champion by over `maxBacktestMissesAdded`, or raised over `maxFalseAlarmRatio` × its false alarms
     */
    requireBacktest: Type.Boolean({ default: false }),
    maxBacktestMissesAdded: Type.Integer({ minimum: 0, default: 0 }),
    /** a breach sends the wave back to the bundle it ran before, with no person acting */
    autoRollback: Type.Boolean({ default: true }),
    /**
     * gates left out, by name, e.g. `latency` and `frame_rate` where the hub keeps no telemetry
     * history; recorded with the rollout, so an auditor sees what was not checked
     */
    disabled: Type.Array(GateName, { default: [] }),
  },
  { additionalProperties: false },
);
export type RolloutGates = Static<typeof RolloutGates>;

export const CreateRollout = Type.Object(
  {
    modelVersionId: Id,
    pipeline: Type.String({ default: "default", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    /** devices by id or tag; both empty: every device of the model's project in service */
    target: Type.Object(
      {
        deviceIds: Type.Array(Type.String(), { default: [] }),
        tags: Type.Array(Type.String(), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    mode: Type.Optional(RolloutMode),
    strategy: Type.Optional(Type.Partial(RolloutStrategy)),
    gates: Type.Optional(Type.Partial(RolloutGates)),
    precision: Type.Optional(DeploymentPrecision),
    /** create planned (start later with `resume`) rather than start the canary at once */
    start: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type CreateRollout = Static<typeof CreateRollout>;

/** one group's figures in a gate's window */
export const GateGroup = Type.Object({
  devices: Type.Integer({ minimum: 0 }),
  frames: Type.Integer({ minimum: 0 }),
  /** the count the gate is about (incidents, false alarms, failures, …) */
  count: Type.Number({ minimum: 0 }),
  /**
   * count / frames for rate gates; the installed share (install); the agreement share (shadow);
   * the median device's ratio to its own pre-wave figure (latency, frame_rate); null when unknown
   */
  value: Type.Union([Type.Number(), Type.Null()]),
});

export const GateResult = Type.Object({
  gate: GateName,
  /** `waiting`: not enough evidence yet (never a pass) */
  status: Type.Union([Type.Literal("pass"), Type.Literal("breach"), Type.Literal("waiting")]),
  wave: GateGroup,
  /** devices still on the champion in the same window; absent when the gate compares each device with itself */
  control: Type.Optional(GateGroup),
  /** the one-sided p-value of the rate test, when one was run */
  pValue: Type.Optional(Type.Number()),
  /** the figure the gate held the wave to */
  threshold: Type.Number(),
  /** why, in words */
  detail: Type.String(),
});
export type GateResult = Static<typeof GateResult>;

export const RolloutWave = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  deviceIds: Type.Array(Type.String()),
  state: Type.Union([
    Type.Literal("pending"),
    Type.Literal("baking"),
    Type.Literal("passed"),
    Type.Literal("breached"),
    Type.Literal("rolled_back"),
  ]),
  deploymentId: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Ts, Type.Null()]),
  endedAt: Type.Union([Ts, Type.Null()]),
  /** the latest evaluation of its gates */
  gates: Type.Array(GateResult),
  evaluatedAt: Type.Union([Ts, Type.Null()]),
});
export type RolloutWave = Static<typeof RolloutWave>;

export const RolloutTransition = Type.Object({
  at: Ts,
  from: Type.Union([RolloutState, Type.Null()]),
  to: RolloutState,
  /** a person's id, or `hub` for the hub's own decisions (a gate's breach) */
  by: Type.String(),
  reason: Type.String(),
});

export const Rollout = Type.Object({
  id: Id,
  projectId: Id,
  modelVersionId: Id,
  /** what the target ran before, most devices' model version (null: nothing) */
  championModelVersionId: Type.Union([Id, Type.Null()]),
  pipeline: Type.String(),
  mode: RolloutMode,
  precision: DeploymentPrecision,
  target: Type.Object({ deviceIds: Type.Array(Type.String()), tags: Type.Array(Type.String()) }),
  strategy: RolloutStrategy,
  gates: RolloutGates,
  state: RolloutState,
  /** the wave running or last run */
  currentWave: Type.Integer({ minimum: 0 }),
  waves: Type.Array(RolloutWave),
  /** why it is paused, rolled back or aborted */
  reason: Type.Union([Type.String(), Type.Null()]),
  history: Type.Array(RolloutTransition),
  createdBy: Type.String(),
  createdAt: Ts,
  updatedAt: Ts,
});
export type Rollout = Static<typeof Rollout>;

export const RolloutQuery = Type.Object(
  { projectId: Type.Optional(Type.String()), state: Type.Optional(RolloutState) },
  { additionalProperties: false },
);
export type RolloutQuery = Static<typeof RolloutQuery>;

export const RolloutAction = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
export type RolloutAction = Static<typeof RolloutAction>;

const IdParams = Type.Object({ id: Type.String() });
const ACTION_ERRORS = ["KENSA_ERR_ROLLOUT_NOT_FOUND", "KENSA_ERR_ROLLOUT_STATE"] as const;

/** Staged rollouts gated on field signals. */
export const rolloutRoutes = defineRoutes({
  createRollout: {
    method: "POST",
    path: "/api/v1/rollouts",
    summary: "Roll a model version out in waves, each gated on field signals against a control group",
    permission: "deployments:manage",
    body: CreateRollout,
    status: 201,
    reply: Rollout,
    errors: [
      "KENSA_ERR_MODEL_NOT_FOUND",
      "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
      "KENSA_ERR_DEVICE_NOT_FOUND",
      "KENSA_ERR_DEPLOYMENT_NO_TARGETS",
      "KENSA_ERR_DEVICE_RETIRED",
      "KENSA_ERR_ROLLOUT_CONFLICT",
    ],
  },
  listRollouts: {
    method: "GET",
    path: "/api/v1/rollouts",
    summary: "Rollouts, newest first",
    permission: "deployments:read",
    query: RolloutQuery,
    reply: List(Rollout),
  },
  getRollout: {
    method: "GET",
    path: "/api/v1/rollouts/:id",
    summary: "A rollout with its waves, each gate's latest evidence and its history",
    permission: "deployments:read",
    params: IdParams,
    reply: Rollout,
    errors: ["KENSA_ERR_ROLLOUT_NOT_FOUND"],
  },
  pauseRollout: {
    method: "POST",
    path: "/api/v1/rollouts/:id/pause",
    summary: "Pause a running rollout; its devices keep what they run",
    permission: "deployments:manage",
    params: IdParams,
    body: RolloutAction,
    reply: Rollout,
    errors: [...ACTION_ERRORS],
  },
  resumeRollout: {
    method: "POST",
    path: "/api/v1/rollouts/:id/resume",
    summary: "Start a planned rollout, or resume a paused one (a wave sent back is deployed and baked again)",
    permission: "deployments:manage",
    params: IdParams,
    body: RolloutAction,
    reply: Rollout,
    errors: [...ACTION_ERRORS],
  },
  promoteRollout: {
    method: "POST",
    path: "/api/v1/rollouts/:id/promote",
    summary: "Pass the current wave by hand and go on with the next (a person's decision, audited)",
    permission: "deployments:manage",
    params: IdParams,
    body: RolloutAction,
    reply: Rollout,
    errors: [...ACTION_ERRORS],
  },
  rollbackRollout: {
    method: "POST",
    path: "/api/v1/rollouts/:id/rollback",
    summary: "Send every device the rollout reached back to the bundle it ran before, and end the rollout",
    permission: "deployments:manage",
    params: IdParams,
    body: RolloutAction,
    reply: Rollout,
    errors: [...ACTION_ERRORS],
  },
  abortRollout: {
    method: "POST",
    path: "/api/v1/rollouts/:id/abort",
    summary: "End the rollout where it stands: devices keep what they run, no further wave starts",
    permission: "deployments:manage",
    params: IdParams,
    body: RolloutAction,
    reply: Rollout,
    errors: [...ACTION_ERRORS],
  },
});
