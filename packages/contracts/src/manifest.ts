import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { KensaError } from "./errors.js";
import { BundleTarget, GoldenSet } from "./golden.js";
import { ReferenceInput, referenceIssues } from "./reference-input.js";
import { Rule, ruleIssues } from "./rules.js";
import { deepFreeze, type Issue } from "./validate.js";

export const Sha256 = Type.String({ pattern: "^[a-f0-9]{64}$", description: "lower-case hex sha256" });

export const Task = Type.Union([
  Type.Literal("classification"),
  Type.Literal("detection"),
  Type.Literal("segmentation"),
  Type.Literal("anomaly"),
]);
export type Task = Static<typeof Task>;

export const InputSpec = Type.Object(
  {
    name: Type.String({ minLength: 1, description: "ONNX input name" }),
    width: Type.Integer({ minimum: 1, maximum: 8192 }),
    height: Type.Integer({ minimum: 1, maximum: 8192 }),
    channels: Type.Union([Type.Literal(1), Type.Literal(3)], { default: 3 }),
    layout: Type.Union([Type.Literal("NCHW"), Type.Literal("NHWC")], { default: "NCHW" }),
  },
  { additionalProperties: false },
);
export type InputSpec = Static<typeof InputSpec>;

export const Preprocessing = Type.Object(
  {
    resize: Type.Union([Type.Literal("stretch"), Type.Literal("letterbox"), Type.Literal("center-crop")], {
      default: "stretch",
    }),
    /** pixel = (value * scale - mean[c]) / std[c] */
    scale: Type.Number({ default: 1 / 255, exclusiveMinimum: 0 }),
    mean: Type.Array(Type.Number(), { minItems: 1, maxItems: 3, default: [0, 0, 0] }),
    std: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 3, default: [1, 1, 1] }),
  },
  { additionalProperties: false },
);
export type Preprocessing = Static<typeof Preprocessing>;

export const ClassificationPost = Type.Object(
  {
    type: Type.Literal("classification"),
    activation: Type.Union([Type.Literal("softmax"), Type.Literal("sigmoid"), Type.Literal("none")], {
      default: "softmax",
    }),
    output: Type.Optional(Type.String({ description: "ONNX output name; the first output when omitted" })),
  },
  { additionalProperties: false },
);
export type ClassificationPost = Static<typeof ClassificationPost>;

const OutputName = (what: string) => Type.String({ minLength: 1, description: `ONNX output name of ${what}` });
/** px² in the ORIGINAL image: regions smaller than this are dropped (noise, single pixels) */
const MinArea = Type.Number({ minimum: 0, default: 0 });
/** regions kept per image, largest first, so one noisy frame cannot produce a huge event */
const MaxRegions = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });

/**
 * Per-pixel classes: output [N,C,H,W] with C = labels.length (argmax), or [N,1,H,W] for a
 * binary model (pixel ≥ maskThreshold is the foreground: the last label). The mask may be
 * smaller than the input (strided heads); regions are mapped back to the original image.
 * Labels in okLabels (the background) produce no regions.
 */
export const SegmentationPost = Type.Object(
  {
    type: Type.Literal("segmentation"),
    activation: Type.Union([Type.Literal("softmax"), Type.Literal("sigmoid"), Type.Literal("none")], {
      default: "softmax",
    }),
    output: Type.Optional(OutputName("the mask scores; the first output when omitted")),
    /** binary models only: a pixel is foreground at or above this score (after activation) */
    maskThreshold: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
    minArea: MinArea,
    maxRegions: MaxRegions,
  },
  { additionalProperties: false },
);
export type SegmentationPost = Static<typeof SegmentationPost>;

/**
 * How a detector lays out its boxes:
 * - "yolov5": one output [1, N, 5 + nc] rows of (cx, cy, w, h, objectness, class scores…);
 * - "yolov8": one output [1, 4 + nc, N] as Ultralytics exports YOLOv8/11 (no objectness);
 * - "boxes": separate outputs boxes [N,4] (or [1,N,4]), scores [N], labels [N] (torchvision).
 */
export const DetectionLayout = Type.Union([Type.Literal("yolov5"), Type.Literal("yolov8"), Type.Literal("boxes")]);
export type DetectionLayout = Static<typeof DetectionLayout>;

export const DetectionPost = Type.Object(
  {
    type: Type.Literal("detection"),
    layout: DetectionLayout,
    /** yolov5/yolov8: the output holding the predictions; the first output when omitted */
    output: Type.Optional(OutputName("the predictions (yolov5, yolov8)")),
    /** layout "boxes": the three output names, torchvision's by default */
    outputs: Type.Object(
      {
        boxes: OutputName("the boxes"),
        scores: OutputName("the scores"),
        labels: OutputName("the class indices"),
      },
      { additionalProperties: false, default: { boxes: "boxes", scores: "scores", labels: "labels" } },
    ),
    /** layout "boxes": corner (xyxy, torchvision), corner + size, or centre + size */
    boxFormat: Type.Union([Type.Literal("xyxy"), Type.Literal("xywh"), Type.Literal("cxcywh")], { default: "xyxy" }),
    /** box coordinates in model-input px (Ultralytics, torchvision) or 0..1 of the input */
    coordinates: Type.Union([Type.Literal("pixels"), Type.Literal("normalized")], { default: "pixels" }),
    /** "sigmoid" for exports that emit raw class logits; Ultralytics and torchvision emit scores */
    activation: Type.Union([Type.Literal("sigmoid"), Type.Literal("none")], { default: "none" }),
    /** candidates below this score are dropped before NMS (Ultralytics' conf); findings use the thresholds */
    minScore: Type.Number({ minimum: 0, maximum: 1, default: 0.25 }),
    /** class-wise NMS: a box overlapping a better one of its class by more than this IoU is dropped */
    iou: Type.Number({ minimum: 0, maximum: 1, default: 0.45 }),
    maxDetections: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
export type DetectionPost = Static<typeof DetectionPost>;

/**
 * An anomaly score map [N,1,H,W] or [N,H,W] (PatchCore, PaDiM, EfficientAD exports). The image
 * score is its maximum or the mean of its top-k pixels; pixels at or above `mapThreshold`
 * (default: the image threshold) form regions labelled with the manifest's non-OK label.
 */
export const AnomalyPost = Type.Object(
  {
    type: Type.Literal("anomaly"),
    output: Type.Optional(OutputName("the score map; the first output when omitted")),
    activation: Type.Union([Type.Literal("sigmoid"), Type.Literal("none")], { default: "none" }),
    /** raw scores are mapped to 0..1 as (v - min) / (max - min), clamped: thresholds are 0..1 */
    normalize: Type.Optional(Type.Object({ min: Type.Number(), max: Type.Number() }, { additionalProperties: false })),
    scoreReduce: Type.Union([Type.Literal("max"), Type.Literal("topk-mean")], { default: "max" }),
    /** pixels averaged by "topk-mean" */
    topK: Type.Integer({ minimum: 1, default: 100 }),
    /** pixel score at or above which a pixel belongs to a region; the image threshold when omitted */
    mapThreshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    minArea: MinArea,
    maxRegions: MaxRegions,
  },
  { additionalProperties: false },
);
export type AnomalyPost = Static<typeof AnomalyPost>;

/** How a model's outputs become a result, chosen by `type` (one postprocessor per task). */
export const Postprocessing = Type.Union([ClassificationPost, SegmentationPost, DetectionPost, AnomalyPost]);
export type Postprocessing = Static<typeof Postprocessing>;

export const Thresholds = Type.Object(
  {
    /** minimum score for a non-OK class to count as a finding */
    default: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
    perClass: Type.Record(Type.String(), Type.Number({ minimum: 0, maximum: 1 }), { default: {} }),
  },
  { additionalProperties: false },
);
export type Thresholds = Static<typeof Thresholds>;

/**
 * Tiled inference (docs/bundles.md, "Tiling"): the frame is cut into overlapping tiles of
 * width×height source px, each tile is preprocessed to the model input like a whole frame
 * would be, and the per-tile results are merged back into frame coordinates (boxes across the
 * seams by NMS, maps stitched). For small defects on frames much larger than the input.
 */
export const Tiling = Type.Object(
  {
    /** tile size in source (frame) px */
    width: Type.Integer({ minimum: 16, maximum: 8192 }),
    height: Type.Integer({ minimum: 16, maximum: 8192 }),
    /** px two neighbouring tiles share at least; an object up to this size lies whole in some tile */
    overlap: Type.Integer({ minimum: 0, maximum: 4096, default: 32 }),
  },
  { additionalProperties: false },
);
export type Tiling = Static<typeof Tiling>;

/** What a user uploads beside an ONNX file: how to feed the model and read its output. */
export const ModelManifest = Type.Object(
  {
    task: Task,
    input: InputSpec,
    preprocessing: Preprocessing,
    labels: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true }),
    /** labels that mean "nothing wrong"; findings are the other labels */
    okLabels: Type.Array(Type.String(), { default: [] }),
    postprocessing: Postprocessing,
    thresholds: Thresholds,
    /** rules the agent evaluates per frame and source (see rules.ts); absent means none, [] */
    rules: Type.Optional(Type.Array(Rule, { maxItems: 100 })),
    /** cut frames into tiles at native resolution (see Tiling); absent: the whole frame is resized to the input */
    tiling: Type.Optional(Tiling),
    /** reference-image inspection: the golden references and how the input stacks them (reference-input.ts) */
    reference: Type.Optional(ReferenceInput),
  },
  { additionalProperties: false },
);
export type ModelManifest = Static<typeof ModelManifest>;

/** What an agent runs: a model manifest bound to one exact model file. Content-addressed. */
export const BundleManifest = Type.Object(
  {
    schema: Type.Literal("kensa.bundle/v1"),
    name: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    projectId: Type.String(),
    modelVersionId: Type.String(),
    model: Type.Object(
      { sha256: Sha256, size: Type.Integer({ minimum: 1 }), format: Type.Literal("onnx") },
      { additionalProperties: false },
    ),
    manifest: ModelManifest,
    /** what the bundle was built for (architecture, precision, runtime); absent: fp32, any architecture */
    target: Type.Optional(BundleTarget),
    /** frames the agent runs through the model before it swaps it in; absent: no self-test */
    golden: Type.Optional(GoldenSet),
    /**
     * the hub's bundle sequence (monotonic per hub, one per distinct bundle content): an agent
     * refuses a bundle older than the one it runs unless the hub signed a downgrade grant
     * (docs/bundles.md). Absent in bundles of hubs before signing.
     */
    sequence: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type BundleManifest = Static<typeof BundleManifest>;

const postprocessors: Record<Postprocessing["type"], TSchema> = {
  classification: ClassificationPost,
  segmentation: SegmentationPost,
  detection: DetectionPost,
  anomaly: AnomalyPost,
};

/**
 * What the schema cannot say about a schema-valid manifest: the postprocessing must be the
 * task's, and tasks that report findings need a label that is not OK.
 */
export function manifestIssues(m: ModelManifest): Issue[] {
  const issues: Issue[] = [];
  const post = m.postprocessing;
  if (post.type !== m.task) {
    issues.push({ path: "/postprocessing/type", message: `must be the task "${m.task}", not "${post.type}"` });
  }
  if (post.type !== "classification" && m.labels.every((l) => m.okLabels.includes(l))) {
    issues.push({ path: "/okLabels", message: `a ${post.type} model needs at least one label that is not OK` });
  }
  if (post.type === "anomaly" && post.normalize && !(post.normalize.max > post.normalize.min)) {
    issues.push({ path: "/postprocessing/normalize", message: "max must be greater than min" });
  }
  if (m.rules) issues.push(...ruleIssues(m.rules));
  issues.push(...referenceIssues(m));
  if (m.tiling) issues.push(...tilingIssues(m.tiling, m.task));
  return issues;
}

/**
 * What a tiling block's schema cannot say: tiles must advance (overlap under half the tile's
 * short side) and classification has no per-tile result to merge. Paths start at /tiling.
 */
export function tilingIssues(t: Tiling, task: Task): Issue[] {
  const issues: Issue[] = [];
  if (task === "classification") {
    issues.push({
      path: "/tiling",
      message: "classification has no per-tile result to merge; tiling is for detection, segmentation and anomaly",
    });
  }
  const short = Math.min(t.width, t.height);
  if (t.overlap * 2 >= short) {
    issues.push({
      path: "/tiling/overlap",
      message: `${t.overlap} px must be less than half the tile's short side (${short} px), or tiles would not advance`,
    });
  }
  return issues;
}

/**
 * Validates a manifest as uploaded: schema defaults applied, unknown keys rejected, then
 * manifestIssues(). Errors name key paths; a bad postprocessing is checked against the schema
 * of its own `type`, so the path points into it rather than at "no union member matched".
 * Throws KENSA_ERR_MANIFEST_INVALID with `details.issues`; returns the frozen manifest.
 */
export function parseManifest(input: unknown): ModelManifest {
  const value = Value.Default(ModelManifest, Value.Clone(input ?? {}));
  let issues: Issue[];
  if (Value.Check(ModelManifest, value)) {
    issues = manifestIssues(value);
  } else {
    issues = [...Value.Errors(ModelManifest, value)]
      .filter((e) => !e.path.startsWith("/postprocessing") && !e.path.startsWith("/rules"))
      .map((e) => ({ path: e.path || "/", message: e.message }));
    const rules = (value as { rules?: unknown }).rules;
    if (rules !== undefined) issues.push(...ruleIssues(rules));
    const post = (value as { postprocessing?: { type?: unknown } }).postprocessing;
    const type = typeof post?.type === "string" ? post.type : undefined;
    const schema = type && Object.hasOwn(postprocessors, type) ? postprocessors[type as Postprocessing["type"]] : null;
    if (!post || typeof post !== "object") {
      issues.push({ path: "/postprocessing", message: "expected an object with a type" });
    } else if (!schema) {
      const types = Object.keys(postprocessors).join(", ");
      issues.push({ path: "/postprocessing/type", message: `expected one of ${types}` });
    } else {
      for (const e of Value.Errors(schema, post)) issues.push({ path: `/postprocessing${e.path}`, message: e.message });
    }
  }
  if (issues.length) {
    issues = issues.slice(0, 20);
    const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new KensaError("KENSA_ERR_MANIFEST_INVALID", `model manifest is invalid: ${list}`, { issues });
  }
  return deepFreeze(value as ModelManifest);
}
