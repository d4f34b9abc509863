import type { ModelManifest } from "@kensa/contracts";
import type { ModelRunner, TensorData } from "../load-model.js";
import { inputDims } from "../preprocess.js";
import type { Tile } from "./layout.js";

/** tiles per ONNX Runtime call when the model takes a batch */
export const TILE_BATCH = 8;

/**
 * Runs a frame's tiles through a model, TILE_BATCH per call; a model that refuses a batch
 * (exported with a fixed batch of 1) or answers without one is run one tile per call from then
 * on. Torchvision-style box lists ([boxes, 4] per image) have no batch dimension: one by one.
 */
export class TileRunner {
  readonly #runner: ModelRunner;
  readonly #manifest: ModelManifest;
  readonly #fetch: readonly string[];
  #batch = TILE_BATCH;

  constructor(runner: ModelRunner, manifest: ModelManifest, fetch: readonly string[]) {
    this.#runner = runner;
    this.#manifest = manifest;
    this.#fetch = fetch;
    const post = manifest.postprocessing;
    if (post.type === "detection" && post.layout === "boxes") this.#batch = 1;
  }

  /** every tile's outputs ([1, …] each), in tile order */
  async run(frame: { tiles: readonly Tile[]; data: Float32Array }): Promise<Array<Record<string, TensorData>>> {
    const m = this.#manifest;
    const one = inputDims(m.input);
    const per = one.reduce((a, b) => a * b);
    const all: Array<Record<string, TensorData>> = [];
    for (let k = 0; k < frame.tiles.length; ) {
      const n = Math.min(this.#batch, frame.tiles.length - k);
      const data = frame.data.subarray(k * per, (k + n) * per);
      let split: Array<Record<string, TensorData>> | null;
      try {
        const out = await this.#runner.run({ [m.input.name]: { data, dims: [n, ...one.slice(1)] } }, this.#fetch);
        split = splitBatch(out, n);
      } catch (err) {
        if (n === 1) throw err;
        split = null;
      }
      if (!split) {
        this.#batch = 1;
        continue;
      }
      all.push(...split);
      k += n;
    }
    return all;
  }
}

/** A batch's outputs → one record per image ([1, …] each); null when an output is not batched. */
function splitBatch(out: Record<string, TensorData>, n: number): Array<Record<string, TensorData>> | null {
  if (n === 1) return [out];
  const per: Array<Record<string, TensorData>> = Array.from({ length: n }, () => ({}));
  for (const [name, t] of Object.entries(out)) {
    if (t.dims[0] !== n) return null;
    const size = t.data.length / n;
    for (let i = 0; i < n; i++) {
      per[i]![name] = { data: t.data.subarray(i * size, (i + 1) * size), dims: [1, ...t.dims.slice(1)] };
    }
  }
  return per;
}
