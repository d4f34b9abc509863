import { type Static, Type } from "@sinclair/typebox";
import type { Issue } from "./validate.js";

/** Largest translation (px, at model input size) the frame-to-reference alignment searches. */
export const REFERENCE_MAX_SHIFT = 16;

/** One golden reference of a product or recipe: a lossless PNG at the model's input size. */
export const ReferenceImage = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 128, description: "product / recipe key frames name" }),
    sha256: Type.String({ pattern: "^[a-f0-9]{64}$", description: "sha256 of the PNG bytes" }),
    png: Type.String({ minLength: 1, description: "base64 of the PNG, at input width × height and channels" }),
  },
  { additionalProperties: false },
);
export type ReferenceImage = Static<typeof ReferenceImage>;

/**
 * Reference-image inspection (docs/training.md): the model's input is the frame, its product's
 * golden reference aligned to it (a translation of up to `maxShift` px; 0 = pre-aligned) and their
 * absolute difference, each normalised by the manifest's preprocessing: 3 × `input.channels`
 * channels. Frames name their reference by key; a frame without one uses `defaultKey`.
 */
export const ReferenceInput = Type.Object(
  {
    stack: Type.Literal("frame-reference-difference"),
    maxShift: Type.Integer({ minimum: 0, maximum: REFERENCE_MAX_SHIFT }),
    defaultKey: Type.String({ minLength: 1, maxLength: 128 }),
    images: Type.Array(ReferenceImage, { minItems: 1, maxItems: 256 }),
  },
  { additionalProperties: false },
);
export type ReferenceInput = Static<typeof ReferenceInput>;

/**
 * What the schema cannot say: keys are unique, the default key is one of them, and the input is
 * one NCHW tensor per frame (no tiling: a reference covers the whole part).
 */
export function referenceIssues(m: {
  reference?: ReferenceInput;
  tiling?: unknown;
  input: { layout: string };
}): Issue[] {
  const ref = m.reference;
  if (!ref) return [];
  const issues: Issue[] = [];
  if (m.tiling)
    issues.push({ path: "/reference", message: "reference-image inspection cannot be combined with tiling" });
  if (m.input.layout !== "NCHW") issues.push({ path: "/input/layout", message: "a reference model takes NCHW input" });
  const keys = ref.images.map((i) => i.key);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) issues.push({ path: "/reference/images", message: `key "${dup}" appears twice` });
  if (!keys.includes(ref.defaultKey)) {
    issues.push({ path: "/reference/defaultKey", message: `"${ref.defaultKey}" is not the key of a reference image` });
  }
  return issues;
}
