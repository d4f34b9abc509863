import type { ClassificationResult, ModelManifest } from "@kensa/contracts";
import { type Inference, Inferencer } from "./inferencer.js";
import type { LoadModelOptions } from "./load-model.js";

/** One classified frame; latencies in ms (performance.now()). */
export type Classification = Inference<ClassificationResult>;

/** A classification model bound to its manifest: an Inferencer whose results are classifications. */
export class Classifier {
  readonly manifest: ModelManifest;
  #inner: Inferencer;

  private constructor(inner: Inferencer) {
    this.#inner = inner;
    this.manifest = inner.manifest;
  }

  /**
   * Loads the model (KENSA_ERR_MODEL_INVALID_ONNX) and checks the manifest's input and output
   * names against it (KENSA_ERR_MODEL_MANIFEST_MISMATCH). Shapes are proven by warmup().
   */
  static async create(modelBytes: Uint8Array, manifest: ModelManifest, opts?: LoadModelOptions): Promise<Classifier> {
    if (manifest.postprocessing.type !== "classification") {
      throw new TypeError(`Classifier needs a classification manifest, got ${manifest.postprocessing.type}`);
    }
    return new Classifier(await Inferencer.create(modelBytes, manifest, opts));
  }

  /** Decodes, preprocesses and classifies one encoded image (KENSA_ERR_MEDIA_INVALID if undecodable). */
  async infer(image: Uint8Array): Promise<Classification> {
    const out = await this.#inner.infer(image);
    // the constructor admits classification manifests only, whose postprocessor yields these
    return out as Classification;
  }

  /** Runs one inference on a zero tensor (allocations, kernel selection); returns its ms. */
  warmup(): Promise<number> {
    return this.#inner.warmup();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
