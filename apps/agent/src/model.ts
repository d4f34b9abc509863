import type { InferenceResult, ModelManifest } from "@kensa/contracts";

/** One inference; latencies in ms. */
export interface InferenceOutput {
  result: InferenceResult;
  /** the decoded frame's size in px */
  frame: { width: number; height: number };
  latencyMs: { preprocess: number; inference: number; total: number };
}

/** The subset of @kensa/vision's Classifier the agent calls. */
export interface InferenceModel {
  infer(image: Uint8Array): Promise<InferenceOutput>;
  /** runs one inference on a blank input; returns its ms */
  warmup(): Promise<number>;
  close(): Promise<void>;
}

/** Builds a runnable model from verified bundle bytes (the composition root picks the runtime). */
export type ModelLoader = (modelBytes: Uint8Array, manifest: ModelManifest) => Promise<InferenceModel>;

/** What a pipeline runs: a warmed-up model and the bundle it came from. */
export interface LoadedBundle {
  model: InferenceModel;
  bundle: { sha256: string; modelVersionId: string };
}
