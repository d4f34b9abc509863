import type { Box, Detection } from "@kensa/contracts";
import type { Tile } from "./layout.js";

/** px within which a box edge counts as lying on a tile edge */
const EDGE_PX = 1.5;
/**
 * Intersection over the smaller box at which a box cut by a tile seam and an overlapping box of
 * its class are one object: the part of it the tile saw, and the part (or whole) a neighbour saw
 */
export const SEAM_IOS = 0.5;

/** A detection of one tile, in frame px, and whether a tile seam (not the frame edge) cut it. */
export interface TileDetection extends Detection {
  cut: boolean;
}

/**
 * A tile's detections (boxes in px of the tile's visible part) → frame px, each marked `cut`
 * when it touches an edge of the tile that lies inside the frame.
 */
export function toFrame(detections: readonly Detection[], tile: Tile, frame: { width: number; height: number }) {
  return detections.map((d): TileDetection => {
    const [x, y, w, h] = d.box;
    const box: Box = [x + tile.x, y + tile.y, w, h];
    const cut =
      (tile.x > 0 && x <= EDGE_PX) ||
      (tile.y > 0 && y <= EDGE_PX) ||
      (tile.x + tile.width < frame.width && x + w >= tile.width - EDGE_PX) ||
      (tile.y + tile.height < frame.height && y + h >= tile.height - EDGE_PX);
    return { ...d, box, cut };
  });
}

/**
 * Detections of overlapping tiles → one list for the frame, best first, at most `max`.
 * Class-wise and greedy like NMS: a box overlapping a kept box of its class by IoU > `iou` is
 * the same object seen twice (in the overlap of two tiles) and is dropped; a box that a seam
 * cut, or that overlaps a cut kept box, by intersection-over-smaller > SEAM_IOS is a piece of
 * the same object and is fused into it (the union of both boxes, the better score).
 */
export function mergeTileDetections(dets: readonly TileDetection[], iou: number, max: number): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const kept: TileDetection[] = [];
  for (const d of sorted) {
    let absorbed = false;
    for (let i = 0; i < kept.length; i++) {
      const k = kept[i]!;
      if (k.label !== d.label) continue;
      const { iou: o, ios } = overlap(k.box, d.box);
      if (o > iou) {
        absorbed = true;
        break;
      }
      if ((k.cut || d.cut) && ios > SEAM_IOS) {
        kept[i] = { ...k, box: union(k.box, d.box), cut: k.cut && d.cut };
        absorbed = true;
        break;
      }
    }
    if (!absorbed) kept.push(d);
  }
  return kept.slice(0, max).map(({ cut: _cut, ...d }) => d);
}

function overlap(a: Box, b: Box): { iou: number; ios: number } {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return { iou: 0, ios: 0 };
  const inter = w * h;
  const aa = a[2] * a[3];
  const ba = b[2] * b[3];
  const union = aa + ba - inter;
  return { iou: union > 0 ? inter / union : 0, ios: Math.min(aa, ba) > 0 ? inter / Math.min(aa, ba) : 0 };
}

function union(a: Box, b: Box): Box {
  const x1 = Math.min(a[0], b[0]);
  const y1 = Math.min(a[1], b[1]);
  const x2 = Math.max(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.max(a[1] + a[3], b[1] + b[3]);
  return [x1, y1, x2 - x1, y2 - y1];
}
