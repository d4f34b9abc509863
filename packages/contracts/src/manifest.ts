import { type Static, Type } from "@sinclair/typebox";

const Sha256 = Type.String({ pattern: "^[a-f0-9]{64}$", description: "lower-case hex sha256" });

export { Sha256 };

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
export const Postprocessing = Type.Union([ClassificationPost]);
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
  },
  { additionalProperties: false },
);
export type BundleManifest = Static<typeof BundleManifest>;
