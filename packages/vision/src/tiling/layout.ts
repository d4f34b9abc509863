import type { Tiling } from "@kensa/contracts";

/** One tile of a frame, in frame px. */
export interface Tile {
  /** left and top edge */
  x: number;
  y: number;
  /** the part of the tile inside the frame (a tile of a frame smaller than the tile is padded past it) */
  width: number;
  height: number;
}

/**
 * Where tiles of `tile` px start along a side of `size` px so that neighbours share at least
 * `overlap` px: the fewest tiles that do, spread evenly, the first at 0 and the last flush with
 * the far edge. A side no longer than one tile gets one tile at 0 (padded past the frame).
 */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const n = Math.ceil((size - overlap) / (tile - overlap));
  if (n <= 1) return [0];
  const step = (size - tile) / (n - 1);
  return Array.from({ length: n }, (_, i) => Math.round(i * step));
}

/** The tiles of a width×height frame, row by row: the same layout the trainer validates on. */
export function tileLayout(width: number, height: number, t: Tiling): Tile[] {
  const xs = tileStarts(width, t.width, t.overlap);
  const ys = tileStarts(height, t.height, t.overlap);
  const tiles: Tile[] = [];
  for (const y of ys) {
    for (const x of xs) {
      tiles.push({ x, y, width: Math.min(t.width, width - x), height: Math.min(t.height, height - y) });
    }
  }
  return tiles;
}
