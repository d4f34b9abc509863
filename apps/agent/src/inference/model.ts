import type { InferenceResult, InputStats, ModelManifest } from "@kensa/contracts";

/** One inference; latencies in ms. */
export interface InferenceOutput {
  result: InferenceResult;
  /** the decoded frame's size in px */
  frame: { width: number; height: number };
  latencyMs: { preprocess: number; inference: number; total: number };
  /** statistics of the model's input (Event.input); absent from runtimes that do not take them */
  input?: InputStats;
}

/**
 * The subset of @kensa/vision's Inferencer the agent calls. `prepare` (decode, resize,
 * normalise: sharp on libuv's pool) and `run` (ONNX Runtime on its own threads) let the
 * pipeline decode frame i+1 while frame i is inferred; a model without them is inferred in
 * one step by `infer`. What `prepare` returns is opaque and goes to the same model's `run`.
 */
export interface InferenceModel {
  prepare?(image: Uint8Array): Promise<unknown>;
  run?(prepared: unknown): Promise<InferenceOutput>;
  infer(image: Uint8Array): Promise<InferenceOutput>;
  /** runs one inference on a blank input; returns its ms */
  warmup(): Promise<number>;
  close(): Promise<void>;
  /** false while a supervised session is being restarted: frames are skipped, not failed */
  readonly ready?: boolean;
}

/**
 * Builds a runnable model from a verified bundle's model: the path of its stored file, or its
 * bytes when it could not be stored (the composition root picks the runtime).
 */
export type ModelLoader = (model: string | Uint8Array, manifest: ModelManifest) => Promise<InferenceModel>;

/** What a pipeline runs: a warmed-up model, the manifest it was loaded with, and the bundle it came from. */
export interface LoadedBundle {
  model: InferenceModel;
  bundle: { sha256: string; modelVersionId: string };
  /** labels, OK labels and rules of the bundle */
  manifest: ModelManifest;
}
