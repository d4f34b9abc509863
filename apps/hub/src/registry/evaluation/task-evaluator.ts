import type { EvaluationMetrics, LabelContent, ModelManifest, Task } from "@kensa/contracts";
import type { DriftReferenceRecorder } from "./drift-reference.js";
import type { SampleOutcomes } from "./sample-outcomes.js";

/** Where an evaluation reads images and masks by sha256: the hub's blob store, or a worker's downloads. */
export interface BlobSource {
  get(sha256: string): Promise<Uint8Array | null>;
}

/** One test image of a snapshot, as evaluators read it. */
export interface EvalItem {
  sampleId: string;
  image: { sha256: string; width: number; height: number };
  label: { content: LabelContent };
  /** reference-image inspection: the sample's product / recipe key (absent: the model's default reference) */
  referenceKey?: string;
}

export interface EvalContext {
  manifest: ModelManifest;
  items: readonly EvalItem[];
  /** the snapshot's OK labels: what "nothing wrong" means in the ground truth */
  okLabels: readonly string[];
  blobs: BlobSource;
  signal?: AbortSignal;
  /** ONNX Runtime threads; 1 keeps latency comparable between runs on a busy hub */
  threads: number;
  /** takes each scored sample's input statistics and result: the drift reference (not for the int8 pass) */
  reference?: DriftReferenceRecorder;
}

/** the metrics, and what the model did on each sample (kept for the gate's paired comparison) */
export type TaskMetrics = Omit<EvaluationMetrics, "int8"> & { outcomes?: SampleOutcomes };

/** Scores one model file on test images for one task; chosen by the manifest's task. */
export interface TaskEvaluator {
  readonly task: Task;
  evaluate(model: Uint8Array, ctx: EvalContext): Promise<TaskMetrics>;
}
