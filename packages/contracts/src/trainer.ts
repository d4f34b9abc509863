import { type Static, Type } from "@sinclair/typebox";
import { Tiling } from "./manifest.js";
import { REFERENCE_MAX_SHIFT } from "./reference-input.js";

/*
 * The trainer contract: how the hub (or anyone) drives a training program. The hub writes a
 * job spec file, starts the trainer with its path as the one argument, reads JSON lines from
 * its stdout and, on exit code 0, picks up the files in `outputDir`. Any program honouring
 * this contract can be a trainer; trainers/torch/README.md is its prose description.
 */

/** Tasks a trainer can be asked for (anomaly models are brought in, not trained here yet). */
export const TrainerTask = Type.Union([
  Type.Literal("classification"),
  Type.Literal("segmentation"),
  Type.Literal("detection"),
  /** trained on OK images with synthesized defects; anomalous images only validate and test */
  Type.Literal("anomaly"),
]);
export type TrainerTask = Static<typeof TrainerTask>;

export const TrainerSplit = Type.Union([Type.Literal("train"), Type.Literal("val"), Type.Literal("test")]);
export type TrainerSplit = Static<typeof TrainerSplit>;

/** One box in the sample image's own pixels (not the model input's). */
export const TrainerBox = Type.Object(
  {
    label: Type.String({ minLength: 1 }),
    /** px from the left edge */
    x: Type.Number({ minimum: 0 }),
    /** px from the top edge */
    y: Type.Number({ minimum: 0 }),
    /** px */
    w: Type.Number({ exclusiveMinimum: 0 }),
    /** px */
    h: Type.Number({ exclusiveMinimum: 0 }),
  },
  { additionalProperties: false },
);
export type TrainerBox = Static<typeof TrainerBox>;

export const TrainerSample = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    /** absolute path of an encoded image (JPEG, PNG, …) */
    path: Type.String({ minLength: 1 }),
    split: TrainerSplit,
    /**
     * classification: exactly one label; detection/segmentation: informative (what the image
     * contains); anomaly: a label outside okLabels (or a box, or a mask with damage) marks an
     * anomalous image
     */
    classes: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** detection: every object in the image; none = a negative image */
    boxes: Type.Optional(Type.Array(TrainerBox)),
    /**
     * segmentation: absolute path of a single-channel PNG the size of the image; pixel value =
     * index into `labels`, 0 = background (so labels[0] is the background label)
     */
    maskPath: Type.Optional(Type.String({ minLength: 1 })),
    /** reference-image inspection: the key of the sample's golden reference in `reference.images`; absent = the default */
    referenceKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type TrainerSample = Static<typeof TrainerSample>;

/** Augmentations applied to training images only; boxes and masks follow the same transform. */
export const TrainerAugment = Type.Object(
  {
    /** mirror left-right with p = 0.5 */
    hflip: Type.Boolean({ default: true }),
    /** mirror top-bottom with p = 0.5 (off for scenes with a gravity direction: people, PPE) */
    vflip: Type.Boolean({ default: false }),
    /** rotate by up to ±10° */
    rotate: Type.Boolean({ default: true }),
    /** brightness ±20 %, contrast ±20 % */
    brightnessContrast: Type.Boolean({ default: true }),
    /** gaussian noise, SD up to 2 % of full scale */
    noise: Type.Boolean({ default: true }),
    /** random crop keeping 85–100 % of each side, resized back to the input size */
    crop: Type.Boolean({ default: true }),
  },
  { additionalProperties: false, default: {} },
);
export type TrainerAugment = Static<typeof TrainerAugment>;

export const TrainerHyper = Type.Object(
  {
    /** upper bound; early stopping may end sooner */
    epochs: Type.Integer({ minimum: 1, maximum: 10_000, default: 30 }),
    batchSize: Type.Integer({ minimum: 1, maximum: 4096, default: 32 }),
    /** AdamW peak learning rate, cosine-decayed over `epochs` */
    lr: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.002 }),
    weightDecay: Type.Number({ minimum: 0, maximum: 1, default: 0.0001 }),
    /**
     * epochs without a better validation metric before stopping; 0 = never stop early. Absent:
     * the trainer sizes it to the epochs (max(8, a fifth of them), trainers/torch stopping.py).
     * No default here: a default filled in by validation would read as a person's number.
     */
    patience: Type.Optional(Type.Integer({ minimum: 0 })),
    augment: TrainerAugment,
    /** sample training images inversely to their class frequency (detection/segmentation: with vs without objects) */
    balanceClasses: Type.Boolean({ default: true }),
    /** also write model.int8.onnx (static int8, QDQ) and its accuracy next to fp32's */
    quantize: Type.Boolean({ default: false }),
  },
  { additionalProperties: false, default: {} },
);
export type TrainerHyper = Static<typeof TrainerHyper>;

/** The job's golden references: an absolute image path per product / recipe key. */
export const TrainerReference = Type.Object(
  {
    images: Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ minLength: 1 }), {
      minProperties: 1,
    }),
    /** the key of samples that name none; default: the first key in sort order */
    defaultKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** px at input size the alignment searches (0: frames are pre-aligned); default min(4, side / 4) */
    maxShift: Type.Optional(Type.Integer({ minimum: 0, maximum: REFERENCE_MAX_SHIFT })),
  },
  { additionalProperties: false },
);
export type TrainerReference = Static<typeof TrainerReference>;

/** `job.json`: everything a trainer needs; trainers never read the hub's database. */
export const TrainerJob = Type.Object(
  {
    schema: Type.Literal("kensa.trainer-job/v1"),
    jobId: Type.String({ minLength: 1 }),
    task: TrainerTask,
    /** model output order; segmentation: labels[0] is the background */
    labels: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true }),
    /** labels that mean "nothing wrong"; copied into the manifest */
    okLabels: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    input: Type.Object(
      {
        width: Type.Integer({ minimum: 16, maximum: 4096 }),
        height: Type.Integer({ minimum: 16, maximum: 4096 }),
        channels: Type.Union([Type.Literal(1), Type.Literal(3)], { default: 3 }),
      },
      { additionalProperties: false },
    ),
    hyper: TrainerHyper,
    seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0 }),
    /** CPU threads; default: every core the machine has */
    threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    /** s of wall time since the trainer started: no epoch starts that would not end within it; absent = none */
    budgetSec: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /**
     * hyper.epochs is an estimate of what fits budgetSec (the hub's automatic recipe), not a
     * person's number: the trainer re-plans it from the epochs it measures, more as well as fewer
     */
    epochsFromBudget: Type.Optional(Type.Boolean()),
    /**
     * detection, segmentation, anomaly: train on tiles of this size cut from the frames at their
     * own resolution (each tile resized to `input`), and write the same block into the manifest
     * so that inference tiles alike; absent: whole frames resized to `input`
     */
    tiling: Type.Optional(Tiling),
    /**
     * classification, segmentation: reference-image inspection (docs/training.md); the model takes
     * the frame, its product's reference aligned to it and their difference, and the manifest
     * carries the references
     */
    reference: Type.Optional(TrainerReference),
    /** absolute path; created if missing; must not already hold a model.onnx */
    outputDir: Type.String({ minLength: 1 }),
    samples: Type.Array(TrainerSample, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type TrainerJob = Static<typeof TrainerJob>;

/** Metrics of one split. `values` keys per task are listed in trainers/torch/README.md. */
export const TrainerSplitMetrics = Type.Object(
  {
    samples: Type.Integer({ minimum: 0 }),
    loss: Type.Number(),
    /** the task's primary metric (the one early stopping watches), higher is better */
    primary: Type.Number(),
    values: Type.Record(Type.String(), Type.Number()),
    perClass: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number())),
    /** classification: rows = true label, columns = predicted label, in `labels` order */
    confusion: Type.Optional(Type.Array(Type.Array(Type.Integer({ minimum: 0 })))),
  },
  { additionalProperties: false },
);
export type TrainerSplitMetrics = Static<typeof TrainerSplitMetrics>;

/** `metrics.json`: what the trainer measured. The hub re-evaluates independently. */
export const TrainerMetrics = Type.Object(
  {
    schema: Type.Literal("kensa.trainer-metrics/v1"),
    jobId: Type.String(),
    task: TrainerTask,
    /** accuracy | meanIoU | mAP50 */
    primaryMetric: Type.String(),
    /** 1-based epoch whose weights were exported */
    bestEpoch: Type.Integer({ minimum: 1 }),
    epochsRun: Type.Integer({ minimum: 1 }),
    stoppedEarly: Type.Boolean(),
    /** why the run ended where it did (docs/training.md, "When training stops") */
    stopReason: Type.Optional(Type.String()),
    seed: Type.Integer(),
    elapsedSec: Type.Number({ minimum: 0 }),
    val: TrainerSplitMetrics,
    /** null when the job has no test samples */
    test: Type.Union([TrainerSplitMetrics, Type.Null()]),
    /** present when hyper.quantize: the int8 model measured on the same splits */
    int8: Type.Optional(
      Type.Object(
        {
          model: Type.Literal("model.int8.onnx"),
          backend: Type.String({ description: "quantization engine and scheme, e.g. qnnpack per-tensor QDQ" }),
          val: TrainerSplitMetrics,
          test: Type.Union([TrainerSplitMetrics, Type.Null()]),
          /** int8 primary − fp32 primary on val (negative = int8 is worse) */
          valPrimaryDelta: Type.Number(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TrainerMetrics = Static<typeof TrainerMetrics>;

/** `curves.json`: one row per epoch run. */
export const TrainerCurves = Type.Object(
  {
    schema: Type.Literal("kensa.trainer-curves/v1"),
    primaryMetric: Type.String(),
    epochs: Type.Array(
      Type.Object(
        {
          epoch: Type.Integer({ minimum: 1 }),
          trainLoss: Type.Number(),
          valLoss: Type.Number(),
          valMetric: Type.Number(),
          lr: Type.Number(),
          elapsedSec: Type.Number(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TrainerCurves = Static<typeof TrainerCurves>;

const Elapsed = Type.Number({ minimum: 0, description: "s since the trainer started" });
const Eta = Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: "s left, null when unknown" });

export const TrainerStartLine = Type.Object({
  type: Type.Literal("start"),
  jobId: Type.String(),
  task: TrainerTask,
  epochs: Type.Integer(),
  /** optimizer steps per epoch */
  stepsPerEpoch: Type.Integer(),
  totalSteps: Type.Integer(),
  samples: Type.Object({ train: Type.Integer(), val: Type.Integer(), test: Type.Integer() }),
  threads: Type.Integer(),
  trainer: Type.String({ description: "name and version, e.g. kensa-torch/1 torch/1.13.0" }),
  elapsedSec: Elapsed,
});

export const TrainerStepLine = Type.Object({
  type: Type.Literal("step"),
  epoch: Type.Integer({ minimum: 1 }),
  /** 1-based over the whole run */
  step: Type.Integer({ minimum: 1 }),
  totalSteps: Type.Integer(),
  loss: Type.Number(),
  elapsedSec: Elapsed,
  etaSec: Eta,
});

export const TrainerEpochLine = Type.Object({
  type: Type.Literal("epoch"),
  epoch: Type.Integer({ minimum: 1 }),
  epochs: Type.Integer(),
  step: Type.Integer(),
  totalSteps: Type.Integer(),
  loss: Type.Number({ description: "mean training loss of the epoch" }),
  valLoss: Type.Number(),
  valMetric: Type.Number(),
  primaryMetric: Type.String(),
  val: Type.Record(Type.String(), Type.Number()),
  /** this epoch is the best so far (its weights will be exported unless a later one beats it) */
  best: Type.Boolean(),
  lr: Type.Number(),
  elapsedSec: Elapsed,
  etaSec: Eta,
});

export const TrainerLogLine = Type.Object({
  type: Type.Literal("log"),
  level: Type.Union([Type.Literal("info"), Type.Literal("warn")]),
  message: Type.String(),
  elapsedSec: Elapsed,
});

export const TrainerDoneLine = Type.Object({
  type: Type.Literal("done"),
  bestEpoch: Type.Integer(),
  epochsRun: Type.Integer(),
  stoppedEarly: Type.Boolean(),
  stopReason: Type.Optional(Type.String()),
  primaryMetric: Type.String(),
  val: Type.Number({ description: "primary metric on val" }),
  test: Type.Union([Type.Number(), Type.Null()]),
  /** file names inside outputDir */
  outputs: Type.Array(Type.String()),
  elapsedSec: Elapsed,
});

export const TrainerErrorLine = Type.Object({
  type: Type.Literal("error"),
  /** a code from the error catalog (KENSA_ERR_TRAINER_*) */
  code: Type.String(),
  exitCode: Type.Integer(),
  message: Type.String(),
  elapsedSec: Elapsed,
});

/** One line of a trainer's stdout. Lines that do not parse are logged and ignored by the hub. */
export const TrainerProgress = Type.Union([
  TrainerStartLine,
  TrainerStepLine,
  TrainerEpochLine,
  TrainerLogLine,
  TrainerDoneLine,
  TrainerErrorLine,
]);
export type TrainerProgress = Static<typeof TrainerProgress>;

/** Exit codes of a trainer process; anything else is treated like `trainingFailed`. */
export const trainerExitCodes = {
  ok: 0,
  /** job.json is missing, unreadable or invalid; nothing was trained */
  badJob: 2,
  /** an image or mask is missing or undecodable, or a label is unknown */
  dataError: 3,
  /** training diverged (NaN/inf loss) or crashed */
  trainingFailed: 4,
  /** the trained model could not be exported to ONNX (or quantized when asked) */
  exportFailed: 5,
  /** SIGINT (128 + 2) */
  interrupted: 130,
  /** SIGTERM (128 + 15) */
  terminated: 143,
} as const;
export type TrainerExitCode = (typeof trainerExitCodes)[keyof typeof trainerExitCodes];

/** Files a successful run leaves in outputDir (model.int8.onnx only when hyper.quantize). */
export const trainerOutputs = {
  model: "model.onnx",
  modelInt8: "model.int8.onnx",
  manifest: "manifest.json",
  metrics: "metrics.json",
  curves: "curves.json",
  log: "train.log",
} as const;
