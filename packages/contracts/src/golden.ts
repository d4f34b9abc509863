import { type Static, Type } from "@sinclair/typebox";

/*
 * Bundle targets and golden frames: what a bundle was built for, the few frames of the model's
 * frozen evaluation set it carries with the outputs the hub computed for that bundle's model
 * file, and the parity figures an agent's self-test reports against them.
 */

const Sha = Type.String({ pattern: "^[a-f0-9]{64}$", description: "lower-case hex sha256" });

export const Precision = Type.Union([Type.Literal("fp32"), Type.Literal("int8")]);
export type Precision = Static<typeof Precision>;

/** What a bundle was built for. A bundle without one (hubs before targets) is fp32 for any architecture. */
export const BundleTarget = Type.Object(
  {
    /** Node's process.arch naming (`x64`, `arm64`), `armv7`, or `any` when the device never said */
    arch: Type.String({ minLength: 1, maxLength: 32 }),
    precision: Precision,
    /** the inference runtime the bundle's model is meant for */
    runtime: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type BundleTarget = Static<typeof BundleTarget>;

/** How far an agent's outputs may be from the golden ones before the self-test fails. */
export const GoldenTolerances = Type.Object(
  {
    /** share of frames whose top label (classification; best detection/region) must agree */
    top1Agreement: Type.Number({ minimum: 0, maximum: 1 }),
    /** largest absolute score difference allowed (per class; per matched box or region) */
    scoreDelta: Type.Number({ minimum: 0, maximum: 1 }),
    /** smallest mean box IoU (detection, segmentation, anomaly regions) */
    boxIou: Type.Number({ minimum: 0, maximum: 1 }),
    /** smallest mean mask IoU (segmentation, anomaly regions, rasterised from their outlines) */
    maskIou: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);
export type GoldenTolerances = Static<typeof GoldenTolerances>;

const Box = Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()]);

/** A task's output reduced to what parity is measured on. */
export const GoldenOutput = Type.Object(
  {
    /** the headline: classification's top label, else the best detection or region (anomaly: the image score) */
    top: Type.Union([Type.Object({ label: Type.String(), score: Type.Number() }), Type.Null()]),
    /** classification: every class's score */
    scores: Type.Optional(Type.Record(Type.String(), Type.Number(), { maxProperties: 1000 })),
    /** detections, or regions of segmentation and anomaly, in px of the original frame */
    items: Type.Optional(
      Type.Array(
        Type.Object(
          {
            label: Type.String(),
            score: Type.Number(),
            box: Box,
            outline: Type.Optional(Type.Array(Type.Tuple([Type.Number(), Type.Number()]), { maxItems: 64 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type GoldenOutput = Static<typeof GoldenOutput>;

export const GoldenFrame = Type.Object(
  {
    /** the encoded image, fetched like the model (`GET /api/v1/blobs/:sha`) and checked against it */
    sha256: Sha,
    size: Type.Integer({ minimum: 1 }),
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
    sampleId: Type.String(),
    expected: GoldenOutput,
  },
  { additionalProperties: false },
);
export type GoldenFrame = Static<typeof GoldenFrame>;

/** The frames a bundle carries for the self-test; none (stated in `note`) when the model has no evaluation set. */
export const GoldenSet = Type.Object(
  {
    source: Type.Union([Type.Literal("snapshot"), Type.Literal("none")]),
    /** the frozen snapshot the frames come from (its test split) */
    snapshotId: Type.Union([Type.String(), Type.Null()]),
    /** why there are no frames, or how they were picked */
    note: Type.String(),
    tolerances: GoldenTolerances,
    frames: Type.Array(GoldenFrame, { maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type GoldenSet = Static<typeof GoldenSet>;

/** What a self-test measured; null where the task has no such figure. */
export const ParityFigures = Type.Object({
  frames: Type.Integer({ minimum: 0 }),
  top1Agreement: Type.Union([Type.Number(), Type.Null()]),
  maxScoreDelta: Type.Union([Type.Number(), Type.Null()]),
  meanBoxIou: Type.Union([Type.Number(), Type.Null()]),
  meanMaskIou: Type.Union([Type.Number(), Type.Null()]),
});
export type ParityFigures = Static<typeof ParityFigures>;

/** An agent's self-test of one bundle on its golden frames, reported with its pipeline. */
export const SelfTestReport = Type.Object({
  bundleSha256: Sha,
  status: Type.Union([Type.Literal("passed"), Type.Literal("failed"), Type.Literal("skipped")]),
  /** the device's architecture and the bundle's precision */
  arch: Type.String(),
  precision: Precision,
  figures: ParityFigures,
  tolerances: Type.Union([GoldenTolerances, Type.Null()]),
  /** which tolerances failed, or why the test was skipped */
  note: Type.Optional(Type.String({ maxLength: 1000 })),
  ms: Type.Number({ minimum: 0 }),
  ts: Type.String({ format: "date-time" }),
});
export type SelfTestReport = Static<typeof SelfTestReport>;

/** Node's process.arch as a bundle target names it (`arm` is the 32-bit ARMv7 Kensa supports). */
export function targetArch(arch: string): string {
  return arch === "arm" ? "armv7" : arch;
}
