import type { InferenceResult, ModelManifest } from "@kensa/contracts";
import { assertCoherent, bindPostprocessor } from "./check-model-against-manifest.js";
import { type LoadModelOptions, loadModel, type ModelRunner } from "./load-model.js";
import type { Postprocessor } from "./postprocess/postprocessor.js";
import { inputDims, type Preprocessed, preprocess } from "./preprocess.js";

/** One inferred frame; latencies in ms (performance.now()). */
export interface Inference<R extends InferenceResult = InferenceResult> {
  result: R;
  /** the original image size in px */
  frame: { width: number; height: number };
  /** total = preprocess + inference + postprocessing */
  latencyMs: { preprocess: number; inference: number; total: number };
}

/** A decoded, model-ready frame and what decoding it cost. */
export interface PreparedFrame extends Preprocessed {
  /** ms spent decoding, resizing and normalising */
  preprocessMs: number;
}

/**
 * Any ONNX model bound to its manifest: encoded image in, task result out. Preprocessing and
 * postprocessing (classification, segmentation, detection, anomaly) follow the manifest.
 * `prepare` and `run` split `infer` so that a caller can decode the next frame while this one
 * is inferred: sharp decodes on libuv's pool, ONNX Runtime on its own threads.
 */
export class Inferencer {
  readonly manifest: ModelManifest;
  #runner: ModelRunner;
  #post: Postprocessor;

  private constructor(runner: ModelRunner, manifest: ModelManifest, post: Postprocessor) {
    this.#runner = runner;
    this.manifest = manifest;
    this.#post = post;
  }

  /**
   * Loads the model, given as bytes or as the path of its file (see loadModel), or throws
   * KENSA_ERR_MODEL_INVALID_ONNX; checks that the manifest is coherent
   * (KENSA_ERR_MANIFEST_INVALID) and that its input and output names are the model's
   * (KENSA_ERR_MODEL_MANIFEST_MISMATCH). Output shapes are proven by warmup().
   */
  static async create(
    model: Uint8Array | string,
    manifest: ModelManifest,
    opts?: LoadModelOptions,
  ): Promise<Inferencer> {
    assertCoherent(manifest);
    const runner = await loadModel(model, opts);
    try {
      return new Inferencer(runner, manifest, bindPostprocessor(runner, manifest));
    } catch (err) {
      await runner.release();
      throw err;
    }
  }

  /** Decodes and preprocesses one encoded image (KENSA_ERR_MEDIA_INVALID if undecodable). */
  async prepare(image: Uint8Array): Promise<PreparedFrame> {
    const t0 = performance.now();
    const pre = await preprocess(image, this.manifest.input, this.manifest.preprocessing);
    return Object.assign(pre, { preprocessMs: performance.now() - t0 });
  }

  /** Infers a prepared frame and postprocesses the outputs. */
  async run(frame: PreparedFrame): Promise<Inference> {
    const t1 = performance.now();
    const out = await this.#runner.run(
      { [this.manifest.input.name]: { data: frame.data, dims: frame.dims } },
      this.#post.outputs,
    );
    const t2 = performance.now();
    const result = this.#post.run(out, frame.transform);
    const t3 = performance.now();
    return {
      result,
      frame: { width: frame.width, height: frame.height },
      latencyMs: { preprocess: frame.preprocessMs, inference: t2 - t1, total: frame.preprocessMs + (t3 - t1) },
    };
  }

  /** Decodes, preprocesses, infers and postprocesses one encoded image. */
  async infer(image: Uint8Array): Promise<Inference> {
    return this.run(await this.prepare(image));
  }

  /**
   * Runs one inference on a zero tensor (allocations, kernel selection) and checks the output
   * shapes against the manifest (KENSA_ERR_MODEL_MANIFEST_MISMATCH); returns its ms.
   */
  async warmup(): Promise<number> {
    const dims = inputDims(this.manifest.input);
    const data = new Float32Array(dims.reduce((a, b) => a * b));
    const t0 = performance.now();
    const out = await this.#runner.run({ [this.manifest.input.name]: { data, dims } }, this.#post.outputs);
    const ms = performance.now() - t0;
    this.#post.check(out);
    return ms;
  }

  async close(): Promise<void> {
    await this.#runner.release();
  }
}
