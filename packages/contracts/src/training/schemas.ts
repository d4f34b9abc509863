import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { Sha256, Tiling } from "../manifest.js";
import { DriftTrigger } from "../registry/drift.js";
import { TrainerAugment, TrainerTask } from "../trainer.js";
import { JobStatus } from "./job-schemas.js";

/*
 * The hub's job queue and training runs: their HTTP schemas. docs/training.md describes them
 * in prose; evaluations, the gate and training settings are the registry's (registry/schemas.ts).
 */

// ---- runs -------------------------------------------------------------------------------

export const RunTrigger = Type.Object({
  type: Type.Union([
    Type.Literal("manual"),
    Type.Literal("labels"),
    Type.Literal("schedule"),
    Type.Literal("code"),
    Type.Literal("drift"),
  ]),
  /**
   * who (manual), "<n> new reviewed labels" (labels), the cron expression (schedule),
   * "trainer src/<new> (champion <id> trained by src/<old>)" (code: the built-in trainer changed),
   * or "champion <id>: <statistic> PSI <psi> over <h>h (threshold <t>)" (drift)
   */
  detail: Type.String(),
});
export type RunTrigger = Static<typeof RunTrigger>;

export const RunInput = Type.Object(
  {
    width: Type.Integer({ minimum: 16, maximum: 4096 }),
    height: Type.Integer({ minimum: 16, maximum: 4096 }),
    channels: Type.Union([Type.Literal(1), Type.Literal(3)], { default: 3 }),
  },
  { additionalProperties: false },
);

/** Hyper-parameters of a run; every key may be left out (the trainer contract's defaults apply). */
export const RunHyper = Type.Object(
  {
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    lr: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10 })),
    weightDecay: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    patience: Type.Optional(Type.Integer({ minimum: 0 })),
    // no defaults: the keys a person gave must stay told apart from the trainer's defaults
    // (the automatic recipe chooses the others; docs/training.md, "Automatic recipes")
    augment: Type.Optional(withoutDefaults(Type.Partial(TrainerAugment))),
    balanceClasses: Type.Optional(Type.Boolean()),
    quantize: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type RunHyper = Static<typeof RunHyper>;

/** One choice of a run's automatic recipe: the parameter, the value chosen and why (docs/training.md, "Automatic recipes"). */
export const RecipeReason = Type.Object({
  /** the parameter: "input", "channels", "tiling", "augment", "balanceClasses", "epochs" */
  key: Type.String(),
  value: Type.String(),
  /** from what the value was chosen, or "set by …" when a person or the project's defaults gave it */
  why: Type.String(),
});
export type RecipeReason = Static<typeof RecipeReason>;

export const RunRecipe = Type.Object({
  reasons: Type.Array(RecipeReason),
  /** true when hyper.epochs is the recipe's estimate of what fits budgetSec (the trainer re-plans it as it measures) */
  budgetEpochs: Type.Optional(Type.Boolean()),
});
export type RunRecipe = Static<typeof RunRecipe>;

/** The parameters a run was (or will be) trained with; recorded as the model's lineage. */
export const RunParams = Type.Object({
  task: TrainerTask,
  input: Type.Object({ width: Type.Integer(), height: Type.Integer(), channels: Type.Integer() }),
  hyper: RunHyper,
  seed: Type.Integer(),
  threads: Nullable(Type.Integer()),
  /** s of trainer wall time the run may take; absent = no time budget */
  budgetSec: Type.Optional(Type.Integer()),
  /** how input, channels and hyper-parameters were chosen; absent on runs from before recipes */
  recipe: Type.Optional(RunRecipe),
  /** tiled training and inference (docs/training.md, "Tiling"); absent: whole frames */
  tiling: Type.Optional(Tiling),
});
export type RunParams = Static<typeof RunParams>;

/** A run's tiles as asked for: the manifest's Tiling with the overlap optional (32 px when left out; no defaults inside a union). */
export const RunTiling = Type.Object(
  {
    width: Tiling.properties.width,
    height: Tiling.properties.height,
    overlap: Type.Optional(Type.Integer({ minimum: 0, maximum: 4096 })),
  },
  { additionalProperties: false },
);
export type RunTiling = Static<typeof RunTiling>;

/** Body of `POST /projects/:id/runs`. Left-out keys come from the project's training settings. */
export const CreateRun = Type.Object(
  {
    /** train on this snapshot; a fresh snapshot of the project's labeled samples when omitted */
    snapshotId: Type.Optional(Sha256),
    /** must be the project's task when given (a guard for scripts) */
    task: Type.Optional(TrainerTask),
    input: Type.Optional(RunInput),
    hyper: Type.Optional(RunHyper),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
    threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    /**
     * s of trainer wall time: the epochs are chosen to fit it and the trainer stops when it is
     * spent (docs/training.md, "Automatic recipes"); hyper.epochs, when given, still wins
     */
    budgetSec: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600 })),
    /**
     * tiles of this size in frame px (`kensa train --tile`), or false for whole frames
     * (`--no-tile`); left out, the automatic recipe decides (docs/training.md, "Tiling")
     */
    tiling: Type.Optional(Type.Union([RunTiling, Type.Literal(false)])),
    /** a trainer named in the hub config's `training.trainers`; "builtin" by default */
    trainer: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    by: Type.String({ default: "admin", minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type CreateRun = Static<typeof CreateRun>;

export const RunStatus = JobStatus;
export type RunStatus = JobStatus;

/** The latest progress a run's trainer reported. */
export const RunProgress = Type.Object({
  /** 1-based epoch last finished (0 before the first) */
  epoch: Type.Integer(),
  epochs: Type.Integer(),
  step: Type.Integer(),
  totalSteps: Type.Integer(),
  /** latest training loss (step) */
  loss: Nullable(Type.Number()),
  valLoss: Nullable(Type.Number()),
  valMetric: Nullable(Type.Number()),
  primaryMetric: Nullable(Type.String()),
  /** s since the trainer started */
  elapsedSec: Type.Number(),
  /** s left (an upper bound: early stopping may end sooner), null when unknown */
  etaSec: Nullable(Type.Number()),
  /** 0..1 of the planned steps */
  fraction: Type.Number(),
});
export type RunProgress = Static<typeof RunProgress>;

export const TrainingRun = Type.Object({
  id: Id,
  projectId: Id,
  snapshotId: Sha256,
  status: RunStatus,
  trigger: RunTrigger,
  params: RunParams,
  /** the trainer's configured name, and what it said it is ("kensa-torch/1 torch/1.13.0") */
  trainer: Type.Object({ name: Type.String(), version: Nullable(Type.String()) }),
  /** git commit of the hub's code, "unknown" outside a checkout */
  codeRevision: Type.String(),
  progress: Nullable(RunProgress),
  /** samples handed to the trainer per split, and those left out (with why) */
  data: Nullable(
    Type.Object({
      train: Type.Integer(),
      val: Type.Integer(),
      test: Type.Integer(),
      skipped: Type.Array(Type.Object({ sampleId: Type.String(), reason: Type.String() })),
    }),
  ),
  /** the trainer's own metrics summary (the gate uses the hub's evaluation, not these) */
  trainerMetrics: Nullable(
    Type.Object({
      primaryMetric: Type.String(),
      val: Type.Number(),
      test: Nullable(Type.Number()),
      bestEpoch: Type.Integer(),
      epochsRun: Type.Integer(),
      /** why training ended where it did, when the trainer says (docs/training.md, "When training stops") */
      stopReason: Type.Optional(Type.String()),
    }),
  ),
  /** why a run failed, in words a person can act on */
  error: Nullable(ErrorInfo),
  exitCode: Nullable(Type.Integer()),
  modelVersionId: Nullable(Type.String()),
  by: Type.String(),
  createdAt: Ts,
  startedAt: Nullable(Ts),
  finishedAt: Nullable(Ts),
});
export type TrainingRun = Static<typeof TrainingRun>;

export const RunQuery = Type.Object(
  {
    projectId: Type.Optional(Type.String()),
    status: Type.Optional(RunStatus),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
export type RunQuery = Static<typeof RunQuery>;

/** Query of `GET /projects/:id/runs`: the project is the path's. */
export const ProjectRunQuery = Type.Omit(RunQuery, ["projectId"], { additionalProperties: false });
export type ProjectRunQuery = Static<typeof ProjectRunQuery>;

/** Body of `POST /runs/:id/cancel`; may be left out. */
export const CancelRun = Type.Optional(
  Type.Object({ by: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
);
export type CancelRun = Static<typeof CancelRun>;

// ---- path parameters --------------------------------------------------------------------

/** The project of `/projects/:id/…` training routes (runs, training settings). */
export const TrainingProjectParams = Type.Object({ id: Type.String() });
export type TrainingProjectParams = Static<typeof TrainingProjectParams>;

export const RunIdParams = Type.Object({ id: Type.String() });
export type RunIdParams = Static<typeof RunIdParams>;

// ---- training settings: what a project trains, when, and by which gate --------------------

/** The metrics the gate can compare (the same name in every task where it makes sense). */
export const GateMetric = Type.Union([
  Type.Literal("accuracy"),
  Type.Literal("f1_macro"),
  Type.Literal("auroc"),
  Type.Literal("miou"),
  Type.Literal("map50"),
]);
export type GateMetric = Static<typeof GateMetric>;

/** Per-project rules a challenger must meet against the champion. */
export const GateCriteria = Type.Object(
  {
    primaryMetric: GateMetric,
    /** challenger − champion on the primary metric must be at least this (may be negative) */
    minImprovement: Type.Number({ default: 0 }),
    /** no class's metric may drop by more than this against the champion; null = not checked */
    maxClassRegression: Nullable(Type.Number({ minimum: 0 }), { default: 0.05 }),
    /** hard: the challenger's p95 latency (ms) must stay within this; null = not checked */
    latencyBudgetMs: Nullable(Type.Number({ exclusiveMinimum: 0 }), { default: null }),
    /** when an int8 variant exists: fp32 − int8 on the primary metric at most this; null = not checked */
    maxInt8Drop: Nullable(Type.Number({ minimum: 0 }), { default: 0.02 }),
    /**
     * hard: the primary metric must reach this absolute value; null = no floor. Also what lets
     * a project's first model (no champion) be approved without a person.
     */
    minPrimary: Nullable(Type.Number(), { default: null }),
    /** approve without a person when every criterion passes; false: always awaiting approval */
    autoApprove: Type.Boolean({ default: true }),
    /*
     * Evidence (docs/training.md, "How the gate decides"). Optional so that criteria stored
     * before they existed still read; the gate applies the defaults.
     */
    /**
     * over a champion, approve only when the confidence interval of challenger − champion (paired,
     * same frozen samples) lies above minImprovement; false compares point estimates
     */
    requireEvidence: Type.Optional(Type.Boolean({ default: true })),
    /** confidence level of every interval the gate reports and decides by */
    confidence: Type.Optional(Type.Number({ minimum: 0.5, maximum: 0.999, default: 0.95 })),
    /** fewer paired test samples than this: the gate draws no conclusion and a person decides */
    minTestSamples: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 })),
    /** a challenger whose improvement is not beyond noise (a tie): "reject" it, or "ask" a person */
    notSignificant: Type.Optional(Type.Union([Type.Literal("reject"), Type.Literal("ask")], { default: "reject" })),
    /** paired bootstrap resamples */
    bootstrapResamples: Type.Optional(Type.Integer({ minimum: 200, maximum: 20_000, default: 2000 })),
    /** seed of the bootstrap: the same outcomes and seed give the same interval */
    bootstrapSeed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1 })),
  },
  { additionalProperties: false },
);
export type GateCriteria = Static<typeof GateCriteria>;

export const AutoDeploy = Type.Object(
  {
    tags: Type.Array(Type.String(), { default: [] }),
    deviceIds: Type.Array(Type.String(), { default: [] }),
    pipeline: Type.String({ default: "default", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
  },
  { additionalProperties: false },
);

/** Per-project training, trigger, gate and deployment settings. */
export const TrainingSettings = Type.Object(
  {
    gate: GateCriteria,
    triggers: Type.Object(
      {
        /** start a run after this many new reviewed labels (reviewed revisions and verdicts); null = off */
        newLabels: Nullable(Type.Integer({ minimum: 1 }), { default: null }),
        /** a 5-field cron expression (minute hour day-of-month month day-of-week, UTC); null = off */
        cron: Nullable(Type.String({ minLength: 9, maxLength: 200 }), { default: null }),
        /**
         * retrain the champion's recipe (its params and trainer, on a fresh snapshot) once when the
         * built-in trainer's source revision differs from the one that trained the champion;
         * absent = false (settings stored before it existed read unchanged)
         */
        trainerRevision: Type.Optional(Type.Boolean()),
        /**
         * retrain (once per champion and window) and alert when the champion's PSI in the field
         * exceeds a threshold (docs/monitoring.md, "Drift"); absent or null = off
         */
        drift: Type.Optional(Nullable(DriftTrigger)),
      },
      { additionalProperties: false, default: {} },
    ),
    /** deploy approved models here; null = never automatically */
    autoDeploy: Nullable(AutoDeploy, { default: null }),
    /** score champion and challenger on this frozen snapshot; null = the challenger run's snapshot */
    evaluationSnapshotId: Nullable(Sha256, { default: null }),
    /** run defaults; a run's own values win */
    defaults: Type.Object(
      {
        input: Nullable(RunInput, { default: null }),
        hyper: Type.Object(RunHyper.properties, { additionalProperties: false, default: {} }),
        seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0 }),
        threads: Nullable(Type.Integer({ minimum: 1, maximum: 1024 }), { default: null }),
        trainer: Type.String({ default: "builtin", minLength: 1, maxLength: 64 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type TrainingSettings = Static<typeof TrainingSettings>;

/**
 * A copy of a schema without `default`s: a patch must not have the validator fill in the keys
 * it leaves out (they keep their stored value), and defaults inside a union are an error to Ajv.
 */
function withoutDefaults<T extends TSchema>(schema: T): T {
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(copy);
    if (!v || typeof v !== "object") return v;
    const out: Record<PropertyKey, unknown> = {};
    for (const k of Reflect.ownKeys(v)) {
      if (k !== "default") out[k] = copy((v as Record<PropertyKey, unknown>)[k]);
    }
    return out;
  };
  return copy(schema) as T;
}

/** Body of `PUT /projects/:id/training-settings`: keys left out keep their value. */
export const UpdateTrainingSettings = withoutDefaults(
  Type.Object(
    {
      gate: Type.Optional(Type.Partial(GateCriteria, { additionalProperties: false })),
      triggers: Type.Optional(Type.Partial(TrainingSettings.properties.triggers, { additionalProperties: false })),
      autoDeploy: Type.Optional(Nullable(Type.Partial(AutoDeploy, { additionalProperties: false }))),
      evaluationSnapshotId: Type.Optional(Nullable(Sha256)),
      defaults: Type.Optional(Type.Partial(TrainingSettings.properties.defaults, { additionalProperties: false })),
    },
    { additionalProperties: false },
  ),
);
export type UpdateTrainingSettings = Static<typeof UpdateTrainingSettings>;
