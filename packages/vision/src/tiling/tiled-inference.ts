import {
  type DetectionResult,
  type InferenceResult,
  KensaError,
  type ModelManifest,
  type Tiling,
} from "@kensa/contracts";
import sharp from "sharp";
import type { ModelRunner, TensorData } from "../load-model.js";
import { messageOf } from "../load-model.js";
import type { Postprocessor } from "../postprocess/postprocessor.js";
import { thresholdOf } from "../postprocess/postprocessor.js";
import { createPostprocessor } from "../postprocess/postprocessors.js";
import { fitToInput, toChannels, toTensor } from "../preprocess.js";
import { planResize, type ResizeTransform } from "../resize-transform.js";
import { type Tile, tileLayout } from "./layout.js";
import { mergeTileDetections, toFrame } from "./merge-detections.js";
import { type StitchedMap, stitchMaps } from "./stitch-maps.js";
import { TileRunner } from "./tile-runner.js";

/** Tiles padded past a frame smaller than one tile get this grey (Ultralytics' letterbox grey; the trainer pads alike). */
export const TILE_PAD = 114;

/** A frame cut into tiles, each already the model's input tensor. */
export interface TiledTensors {
  tiles: Tile[];
  /** the tiles' tensors one after the other: [tiles, …input dims] */
  data: Float32Array;
  /** tile px → input px, the same for every tile (all are tiling.width × tiling.height) */
  transform: ResizeTransform;
  width: number;
  height: number;
}

/**
 * Decodes a frame once and cuts it into the manifest's tiles, each preprocessed exactly as a
 * whole frame would be (resize per `preprocessing.resize`, channels, normalisation). A tile
 * reaching past a frame smaller than it is padded with TILE_PAD. Throws KENSA_ERR_MEDIA_INVALID
 * when the bytes do not decode.
 */
export async function tileFrame(image: Uint8Array, manifest: ModelManifest, tiling: Tiling): Promise<TiledTensors> {
  const { input, preprocessing: pre } = manifest;
  const c = input.channels;
  try {
    const img = sharp(image).removeAlpha();
    const decoded = await (c === 1 ? img.greyscale() : img.toColourspace("srgb"))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width, height } = decoded.info;
    const raw = decoded.info.channels === c ? decoded.data : toChannels(decoded.data, decoded.info.channels, c);
    const tiles = tileLayout(width, height, tiling);
    const per = input.width * input.height * c;
    const data = new Float32Array(per * tiles.length);
    const plan = planResize(tiling.width, tiling.height, input, pre.resize);
    const native = plan.transform.scaleX === 1 && plan.transform.scaleY === 1 && plan.left === 0 && plan.top === 0;
    for (const [k, tile] of tiles.entries()) {
      const px = cropTile(raw, width, c, tile, tiling);
      const tensor = native
        ? toTensor(px, input, pre)
        : (
            await fitToInput(
              sharp(px, { raw: { width: tiling.width, height: tiling.height, channels: c } }),
              tiling.width,
              tiling.height,
              input,
              pre,
            )
          ).data;
      data.set(tensor, k * per);
    }
    return { tiles, data, transform: plan.transform, width, height };
  } catch (err) {
    throw new KensaError("KENSA_ERR_MEDIA_INVALID", `The image cannot be decoded: ${messageOf(err)}`);
  }
}

/** One tile's interleaved pixels, tiling.width × tiling.height, padded past the frame. */
function cropTile(raw: Uint8Array, frameWidth: number, c: number, tile: Tile, t: Tiling): Buffer {
  const out = Buffer.alloc(t.width * t.height * c, TILE_PAD);
  for (let y = 0; y < tile.height; y++) {
    const from = ((tile.y + y) * frameWidth + tile.x) * c;
    raw.subarray(from, from + tile.width * c).forEach((v, i) => {
      out[y * t.width * c + i] = v;
    });
  }
  return out;
}

/**
 * Runs a tiled frame through the model (TileRunner) and merges the tiles' results into the
 * frame's: detections mapped to frame px and merged across seams (mergeTileDetections),
 * segmentation scores averaged and anomaly scores maxed where tiles overlap (stitchMaps), then
 * the manifest's own postprocessing on the stitched map. `inferenceMs` is the time spent in
 * ONNX Runtime.
 */
export class TiledModel {
  readonly #tiles: TileRunner;
  readonly #manifest: ModelManifest;
  readonly #post: Postprocessor;

  constructor(runner: ModelRunner, manifest: ModelManifest, post: Postprocessor) {
    this.#tiles = new TileRunner(runner, manifest, post.outputs);
    this.#manifest = manifest;
    this.#post = post;
  }

  async run(frame: TiledTensors): Promise<{ result: InferenceResult; inferenceMs: number }> {
    const t0 = performance.now();
    const outputs = await this.#tiles.run(frame);
    const inferenceMs = performance.now() - t0;
    return { result: this.#merge(frame, outputs), inferenceMs };
  }

  #merge(frame: TiledTensors, outputs: Array<Record<string, TensorData>>): InferenceResult {
    const m = this.#manifest;
    const size = { width: frame.width, height: frame.height };
    if (m.postprocessing.type === "detection") {
      const dets = outputs.flatMap((out, k) => {
        const tile = frame.tiles[k]!;
        const r = this.#post.run(out, { ...frame.transform, width: tile.width, height: tile.height });
        return toFrame((r as DetectionResult).detections, tile, size);
      });
      const post = m.postprocessing;
      const detections = mergeTileDetections(dets, post.iou, post.maxDetections);
      const finding = detections.some((d) => !m.okLabels.includes(d.label) && d.score >= thresholdOf(m, d.label));
      return { task: "detection", detections, finding };
    }
    const name = this.#post.outputs[0]!;
    const st = stitchOutputs(frame, outputs, name, m);
    const virtual: ModelManifest = { ...m, input: { ...m.input, width: st.inputWidth, height: st.inputHeight } };
    return createPostprocessor(virtual, [name]).run({ [name]: st.map }, st.transform);
  }
}

/** One output of every tile stitched into the frame's map: scores maxed for anomaly, averaged otherwise. */
export function stitchOutputs(
  frame: TiledTensors,
  outputs: ReadonlyArray<Record<string, TensorData>>,
  name: string,
  m: ModelManifest,
): StitchedMap {
  const maps = outputs.map((o) => o[name]!);
  const mode = m.postprocessing.type === "anomaly" ? "max" : "mean";
  return stitchMaps(maps, frame.tiles, frame.transform, m.input, { width: frame.width, height: frame.height }, mode);
}
