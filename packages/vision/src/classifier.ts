import type { ClassificationResult, ModelManifest } from "@kensa/contracts";
import { resolveOutputName } from "./check-model-against-manifest.js";
import { classify } from "./classify.js";
import { type LoadModelOptions, loadModel, type ModelRunner } from "./load-model.js";
import { inputDims, preprocess } from "./preprocess.js";

/** One classified frame; latencies in ms (performance.now()). */
export interface Classification {
  result: ClassificationResult;
  /** the original image size in px */
  frame: { width: number; height: number };
  latencyMs: { preprocess: number; inference: number; total: number };
}

/** A classification model bound to its manifest: encoded image in, result out. */
export class Classifier {
  readonly manifest: ModelManifest;
  #runner: ModelRunner;
  #outputName: string;

  private constructor(runner: ModelRunner, manifest: ModelManifest, outputName: string) {
    this.#runner = runner;
    this.manifest = manifest;
    this.#outputName = outputName;
  }

  /**
   * Loads the model (KENSA_ERR_MODEL_INVALID_ONNX) and checks the manifest's input and output
   * names against it (KENSA_ERR_MODEL_MANIFEST_MISMATCH). Shapes are proven by warmup().
   */
  static async create(modelBytes: Uint8Array, manifest: ModelManifest, opts?: LoadModelOptions): Promise<Classifier> {
    if (manifest.postprocessing.type !== "classification") {
      throw new TypeError(`Classifier needs a classification manifest, got ${manifest.postprocessing.type}`);
    }
    const runner = await loadModel(modelBytes, opts);
    try {
      return new Classifier(runner, manifest, resolveOutputName(runner, manifest));
    } catch (err) {
      await runner.release();
      throw err;
    }
  }

  /** Decodes, preprocesses and classifies one encoded image (KENSA_ERR_MEDIA_INVALID if undecodable). */
  async infer(image: Uint8Array): Promise<Classification> {
    const t0 = performance.now();
    const pre = await preprocess(image, this.manifest.input, this.manifest.preprocessing);
    const t1 = performance.now();
    const out = await this.#runner.run({ [this.manifest.input.name]: { data: pre.data, dims: pre.dims } });
    const t2 = performance.now();
    const tensor = out[this.#outputName];
    if (!tensor) throw new Error(`the model produced no output "${this.#outputName}"`);
    const result = classify(tensor.data, this.manifest);
    const t3 = performance.now();
    return {
      result,
      frame: { width: pre.width, height: pre.height },
      latencyMs: { preprocess: t1 - t0, inference: t2 - t1, total: t3 - t0 },
    };
  }

  /** Runs one inference on a zero tensor (allocations, kernel selection); returns its ms. */
  async warmup(): Promise<number> {
    const dims = inputDims(this.manifest.input);
    const data = new Float32Array(dims.reduce((a, b) => a * b));
    const t0 = performance.now();
    await this.#runner.run({ [this.manifest.input.name]: { data, dims } });
    return performance.now() - t0;
  }

  async close(): Promise<void> {
    await this.#runner.release();
  }
}
