import { type InferenceResult, KensaError, type ModelManifest } from "@kensa/contracts";
import type { TensorData } from "../load-model.js";
import type { ResizeTransform } from "../resize-transform.js";

/** A manifest's postprocessing bound to a loaded model: raw outputs in, result out. */
export interface Postprocessor {
  /** the model outputs it reads; the only ones fetched from the runtime */
  readonly outputs: readonly string[];
  /**
   * Proves that the outputs of one inference fit the manifest (shapes, label counts).
   * Throws KENSA_ERR_MODEL_MANIFEST_MISMATCH saying what differs.
   */
  check(outputs: Record<string, TensorData>): void;
  /** The result for the first image of the batch; `transform` maps input px to original px. */
  run(outputs: Record<string, TensorData>, transform: ResizeTransform): InferenceResult;
}

/** A postprocessor factory; throws a mismatch when the model lacks an output the manifest names. */
export type PostprocessorFactory<P> = (
  post: P,
  manifest: ModelManifest,
  modelOutputs: readonly string[],
) => Postprocessor;

export function mismatch(what: string): KensaError {
  return new KensaError("KENSA_ERR_MODEL_MANIFEST_MISMATCH", `The model does not match its manifest: ${what}`);
}

/** The named output, else the model's first; a mismatch when the model has no such output. */
export function resolveOutput(name: string | undefined, modelOutputs: readonly string[]): string {
  const out = name ?? modelOutputs[0];
  if (out === undefined || !modelOutputs.includes(out)) {
    throw mismatch(`the manifest's output "${out}" is not a model output (${list(modelOutputs)})`);
  }
  return out;
}

export function list(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(", ") : "none";
}

/** An output the runtime was asked for; its absence is a runtime fault, not a user error. */
export function tensorOf(outputs: Record<string, TensorData>, name: string): TensorData {
  const t = outputs[name];
  if (!t) throw mismatch(`the model produced no output "${name}"`);
  return t;
}

/** The score at which a label counts as a finding: its own threshold, else the default. */
export function thresholdOf(manifest: ModelManifest, label: string): number {
  return manifest.thresholds.perClass[label] ?? manifest.thresholds.default;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Scores reported in events must stay within 0..1 even for models that promise it and do not. */
export function unit(x: number): number {
  return Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x));
}

export function shape(t: TensorData): string {
  return `[${t.dims.join(",")}]`;
}
