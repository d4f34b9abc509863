import type { ModelManifest, Postprocessing } from "@kensa/contracts";
import { classificationPostprocessor } from "./classification.js";
import { detectionPostprocessor } from "./detect.js";
import type { Postprocessor, PostprocessorFactory } from "./postprocessor.js";
import { anomalyPostprocessor } from "./score-anomaly.js";
import { segmentationPostprocessor } from "./segment.js";

/** One postprocessor per `postprocessing.type`; adding a task is one entry here. */
export const postprocessors: {
  [K in Postprocessing["type"]]: PostprocessorFactory<Extract<Postprocessing, { type: K }>>;
} = {
  classification: classificationPostprocessor,
  segmentation: segmentationPostprocessor,
  detection: detectionPostprocessor,
  anomaly: anomalyPostprocessor,
};

/**
 * The manifest's postprocessing bound to a model with these outputs. Throws
 * KENSA_ERR_MODEL_MANIFEST_MISMATCH when the model lacks an output the manifest names.
 */
export function createPostprocessor(manifest: ModelManifest, modelOutputs: readonly string[]): Postprocessor {
  const post = manifest.postprocessing;
  // TypeScript cannot correlate the union member with its registry entry; the key guarantees it
  const factory = postprocessors[post.type] as PostprocessorFactory<typeof post>;
  return factory(post, manifest, modelOutputs);
}
