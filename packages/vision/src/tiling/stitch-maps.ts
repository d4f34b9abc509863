import type { TensorData } from "../load-model.js";
import type { ResizeTransform } from "../resize-transform.js";
import type { Tile } from "./layout.js";

/** How overlapping tiles combine: anomaly maps keep the highest score, class scores are averaged. */
export type StitchMode = "max" | "mean";

/** One frame-sized map assembled from per-tile maps, and how it relates to the frame. */
export interface StitchedMap {
  map: TensorData;
  /**
   * The input size a single inference would have needed to give this map (map px × the
   * model's input px per map px): postprocessors size their geometry from it.
   */
  inputWidth: number;
  inputHeight: number;
  /** frame px → that virtual input px: the tiles' scale, no padding */
  transform: ResizeTransform;
}

/**
 * Per-tile maps ([1,C,h,w] or [1,h,w], as the model gives them) → one map [1,C,H,W] covering
 * the frame at the tiles' resolution. Each frame map pixel takes, from every tile whose visible
 * part holds its centre, the tile map pixel under that centre (through the tile's own resize
 * transform, so letterboxed or cropped tiles map exactly), combined per `mode`. Tile padding
 * past the frame is never read.
 */
export function stitchMaps(
  maps: readonly TensorData[],
  tiles: readonly Tile[],
  tileTransform: ResizeTransform,
  input: { width: number; height: number },
  frame: { width: number; height: number },
  mode: StitchMode,
): StitchedMap {
  const first = maps[0]!;
  const d = first.dims;
  const c = d.length === 4 ? d[1]! : 1;
  const h = d[d.length - 2]!;
  const w = d[d.length - 1]!;
  const strideX = input.width / w;
  const strideY = input.height / h;
  const t = tileTransform;
  const W = Math.max(1, Math.ceil((frame.width * t.scaleX) / strideX));
  const H = Math.max(1, Math.ceil((frame.height * t.scaleY) / strideY));
  const n = W * H;
  const out = new Float32Array(c * n).fill(mode === "max" ? Number.NEGATIVE_INFINITY : 0);
  const count = mode === "mean" ? new Uint16Array(n) : null;
  // frame px of each map column's and row's centre
  const fx = Float64Array.from({ length: W }, (_, i) => ((i + 0.5) * strideX) / t.scaleX);
  const fy = Float64Array.from({ length: H }, (_, j) => ((j + 0.5) * strideY) / t.scaleY);

  maps.forEach((m, k) => {
    const tile = tiles[k]!;
    const cols = spanOf(fx, tile.x, tile.x + tile.width, (v) => ((v - tile.x) * t.scaleX + t.padX) / strideX, w);
    const rows = spanOf(fy, tile.y, tile.y + tile.height, (v) => ((v - tile.y) * t.scaleY + t.padY) / strideY, h);
    const src = m.data;
    for (const [j, my] of rows) {
      for (const [i, mx] of cols) {
        const o = j * W + i;
        if (count) count[o]!++;
        for (let ch = 0; ch < c; ch++) {
          const v = src[ch * h * w + my * w + mx]!;
          const at = ch * n + o;
          if (mode === "max") {
            if (v > out[at]! || Number.isNaN(out[at]!)) out[at] = v;
          } else out[at]! += v;
        }
      }
    }
  });
  if (count) {
    for (let o = 0; o < n; o++) {
      const k = count[o]!;
      if (k > 1) for (let ch = 0; ch < c; ch++) out[ch * n + o]! /= k;
    }
  }
  return {
    map: { data: out, dims: [1, c, H, W] },
    inputWidth: W * strideX,
    inputHeight: H * strideY,
    transform: { scaleX: t.scaleX, scaleY: t.scaleY, padX: 0, padY: 0, width: frame.width, height: frame.height },
  };
}

/** [frame map index, tile map index] of the map centres inside [lo, hi) frame px. */
function spanOf(
  centres: Float64Array,
  lo: number,
  hi: number,
  toTile: (v: number) => number,
  size: number,
): Array<[number, number]> {
  const span: Array<[number, number]> = [];
  centres.forEach((v, i) => {
    if (v >= lo && v < hi) span.push([i, Math.min(size - 1, Math.max(0, Math.floor(toTile(v))))]);
  });
  return span;
}
