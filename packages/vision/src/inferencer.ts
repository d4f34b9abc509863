import type { InferenceResult, ModelManifest } from "@kensa/contracts";
import { assertCoherent, bindPostprocessor } from "./check-model-against-manifest.js";
import { type LoadModelOptions, loadModel, type ModelRunner } from "./load-model.js";
import type { Postprocessor } from "./postprocess/postprocessor.js";
import { inputDims, type Preprocessed, preprocess } from "./preprocess.js";
import { modelInputDims, referencesOf, withReference } from "./reference-input.js";
import type { ResizeTransform } from "./resize-transform.js";
import type { Tile } from "./tiling/layout.js";
import { TiledModel, tileFrame } from "./tiling/tiled-inference.js";

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
  /**
   * a tiled manifest's tiles (frame px) and their tile px → input px transform: `data` then
   * holds one input tensor per tile, in this order, and `dims[0]` is their count
   */
  tiled?: { tiles: Tile[]; transform: ResizeTransform };
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
  #tiled: TiledModel | null;

  private constructor(runner: ModelRunner, manifest: ModelManifest, post: Postprocessor) {
    this.#runner = runner;
    this.manifest = manifest;
    this.#post = post;
    this.#tiled = manifest.tiling ? new TiledModel(runner, manifest, post) : null;
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
      const inf = new Inferencer(runner, manifest, bindPostprocessor(runner, manifest));
      // reference-image inspection: a reference that does not decode fails the load (KENSA_ERR_REFERENCE_INVALID)
      await referencesOf(manifest);
      return inf;
    } catch (err) {
      await runner.release();
      throw err;
    }
  }

  /**
   * Decodes and preprocesses one encoded image (KENSA_ERR_MEDIA_INVALID if undecodable); with
   * the manifest's `tiling`, into its overlapping tiles (docs/bundles.md, "Tiling").
   */
  async prepare(image: Uint8Array, referenceKey?: string): Promise<PreparedFrame> {
    const t0 = performance.now();
    const tiling = this.manifest.tiling;
    if (tiling) {
      const t = await tileFrame(image, this.manifest, tiling);
      const one = inputDims(this.manifest.input);
      const dims: PreparedFrame["dims"] = [t.tiles.length, one[1], one[2], one[3]];
      const transform = { scaleX: 1, scaleY: 1, padX: 0, padY: 0, width: t.width, height: t.height };
      const tiled = { tiles: t.tiles, transform: t.transform };
      return {
        data: t.data,
        dims,
        width: t.width,
        height: t.height,
        transform,
        tiled,
        preprocessMs: performance.now() - t0,
      };
    }
    const pre = await preprocess(image, this.manifest.input, this.manifest.preprocessing);
    // reference-image inspection: the frame, its reference aligned to it and their difference
    await withReference(pre, this.manifest, referenceKey);
    return Object.assign(pre, { preprocessMs: performance.now() - t0 });
  }

  /** Infers a prepared frame and postprocesses the outputs. */
  async run(frame: PreparedFrame): Promise<Inference> {
    if (frame.tiled && this.#tiled) return this.#runTiled(frame, frame.tiled);
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

  async #runTiled(frame: PreparedFrame, tiled: NonNullable<PreparedFrame["tiled"]>): Promise<Inference> {
    const t1 = performance.now();
    const { result, inferenceMs } = await this.#tiled!.run({
      tiles: tiled.tiles,
      data: frame.data,
      transform: tiled.transform,
      width: frame.width,
      height: frame.height,
    });
    const total = frame.preprocessMs + (performance.now() - t1);
    return {
      result,
      frame: { width: frame.width, height: frame.height },
      latencyMs: { preprocess: frame.preprocessMs, inference: inferenceMs, total },
    };
  }

  /** Decodes, preprocesses, infers and postprocesses one encoded image. */
  async infer(image: Uint8Array, referenceKey?: string): Promise<Inference> {
    return this.run(await this.prepare(image, referenceKey));
  }

  /**
   * Runs one inference on a zero tensor (allocations, kernel selection) and checks the output
   * shapes against the manifest (KENSA_ERR_MODEL_MANIFEST_MISMATCH); returns its ms.
   */
  async warmup(): Promise<number> {
    const dims = modelInputDims(this.manifest);
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
