import { type EvaluationMetrics, KensaError, type ModelManifest } from "@kensa/contracts";
import { DriftReferenceRecorder, type StoredDriftReference } from "./drift-reference.js";
import type { SampleOutcomes } from "./sample-outcomes.js";
import type { BlobSource, EvalItem } from "./task-evaluator.js";
import { taskEvaluators } from "./task-evaluators.js";

/** The metrics as stored: the public ones, what the model did on each sample (the gate's), the drift reference. */
export type StoredEvaluationMetrics = EvaluationMetrics & { outcomes?: SampleOutcomes; drift?: StoredDriftReference };

/** What one evaluation reads, wherever it runs (the hub's blob store, or files a worker downloaded). */
export interface EvaluationInput {
  manifest: ModelManifest;
  /** the model's ONNX bytes, and its int8 variant's when it has one */
  model: Uint8Array;
  int8: Uint8Array | null;
  /** the snapshot's test items (see testItems) */
  items: readonly EvalItem[];
  okLabels: readonly string[];
  snapshotId: string;
  /** images and masks by sha256 */
  blobs: BlobSource;
  /** ONNX Runtime threads */
  threads: number;
  signal?: AbortSignal;
}

/**
 * The test split of a snapshot manifest, as evaluators read it; KENSA_ERR_EVALUATION_NO_TEST_SPLIT
 * when there is none.
 */
export function testItems(
  manifest: { items: ReadonlyArray<EvalItem & { split: string }> },
  snapshotId: string,
): EvalItem[] {
  const items = manifest.items
    .filter((i) => i.split === "test")
    .map((i) => ({ sampleId: i.sampleId, image: i.image, label: i.label }));
  if (items.length === 0) {
    throw new KensaError(
      "KENSA_ERR_EVALUATION_NO_TEST_SPLIT",
      `snapshot ${snapshotId} has no test sample (${manifest.items.length} samples in train and val)`,
    );
  }
  return items;
}

/**
 * Scores a model (and its int8 variant) on test items with ONNX Runtime: the one evaluation
 * code, run by the hub on its blob store and by `kensa worker` on what it downloaded, so a
 * model scores the same wherever it was evaluated.
 */
export async function evaluateModel(input: EvaluationInput): Promise<StoredEvaluationMetrics> {
  const { manifest } = input;
  const evaluator = taskEvaluators[manifest.task];
  const ctx = {
    manifest,
    items: input.items,
    okLabels: input.okLabels,
    blobs: input.blobs,
    threads: input.threads,
    ...(input.signal ? { signal: input.signal } : {}),
  };
  // the drift reference: what the model saw (and said) on these samples, for the field to be compared with
  const reference = new DriftReferenceRecorder(manifest);
  const metrics: StoredEvaluationMetrics = await evaluator.evaluate(input.model, { ...ctx, reference });
  if (reference.samples > 0) metrics.drift = reference.toJSON();
  if (metrics.samples === 0) {
    throw new KensaError(
      "KENSA_ERR_EVALUATION_NO_TEST_SPLIT",
      `no test sample of snapshot ${input.snapshotId} has a label a ${manifest.task} model can be scored on`,
    );
  }
  if (input.int8) {
    const int8 = await evaluator.evaluate(input.int8, ctx);
    metrics.int8 = { values: int8.values, perClass: int8.perClass, latency: int8.latency };
  }
  return metrics;
}
