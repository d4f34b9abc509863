import type { Region } from "@kensa/contracts";
import { type ResizeTransform, toOriginalBox, toOriginalPoint } from "../resize-transform.js";
import { simplifyClosed, traceOutline } from "./outline.js";
import { unit } from "./postprocessor.js";

/** One 8-connected component of one class, in mask px (bounds inclusive). */
export interface MaskRegion {
  cls: number;
  /** the region's first pixel in raster order: where its outline is traced from */
  start: number;
  pixels: number;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  scoreSum: number;
}

/**
 * Connected components of a class map (width×height, row-major, -1 = no class) with
 * 8-connectivity: pixels of the same class touching by an edge or a corner form one region.
 * Iterative flood fill, so a mask-sized region cannot overflow the stack.
 */
export function connectedRegions(
  classes: Int32Array,
  scores: Float32Array,
  width: number,
  height: number,
): MaskRegion[] {
  const seen = new Uint8Array(width * height);
  const stack = new Int32Array(width * height);
  const regions: MaskRegion[] = [];
  for (let start = 0; start < classes.length; start++) {
    const cls = classes[start]!;
    if (cls < 0 || seen[start]) continue;
    const r: MaskRegion = { cls, start, pixels: 0, minX: width, minY: height, maxX: -1, maxY: -1, scoreSum: 0 };
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      r.pixels++;
      r.scoreSum += scores[i]!;
      if (x < r.minX) r.minX = x;
      if (x > r.maxX) r.maxX = x;
      if (y < r.minY) r.minY = y;
      if (y > r.maxY) r.maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (!seen[j] && classes[j] === cls) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    regions.push(r);
  }
  return regions;
}

/** How a mask relates to the model input: the input px one mask px spans, per axis. */
export interface MaskGeometry {
  width: number;
  height: number;
  /** input px per mask px */
  strideX: number;
  strideY: number;
}

export function maskGeometry(
  maskWidth: number,
  maskHeight: number,
  inputWidth: number,
  inputHeight: number,
): MaskGeometry {
  return { width: maskWidth, height: maskHeight, strideX: inputWidth / maskWidth, strideY: inputHeight / maskHeight };
}

/**
 * Clears mask pixels whose centre falls in letterbox padding: the padding is not part of the
 * frame, and a model may well call uniform grey a defect.
 */
export function clearPadding(classes: Int32Array, g: MaskGeometry, t: ResizeTransform): void {
  if (t.padX <= 0 && t.padY <= 0) return;
  const x0 = t.padX;
  const x1 = t.padX + t.width * t.scaleX;
  const y0 = t.padY;
  const y1 = t.padY + t.height * t.scaleY;
  for (let y = 0; y < g.height; y++) {
    const cy = (y + 0.5) * g.strideY;
    const rowOut = cy < y0 || cy >= y1;
    for (let x = 0; x < g.width; x++) {
      const cx = (x + 0.5) * g.strideX;
      if (rowOut || cx < x0 || cx >= x1) classes[y * g.width + x] = -1;
    }
  }
}

/** Vertices an outline keeps at most: enough for a crack's shape, small enough for every event. */
const MAX_OUTLINE_POINTS = 64;

/**
 * Mask regions → event regions in original px: box from the mask px bounds, area = mask px ×
 * the original px² one mask px covers, and the outline of the region's outer boundary traced in
 * `classes` (simplified to about a mask pixel, at most 64 vertices). Drops regions under
 * `minArea` (original px²), keeps the `maxRegions` largest.
 */
export function toRegions(
  found: readonly MaskRegion[],
  classes: Int32Array,
  labels: readonly string[],
  g: MaskGeometry,
  t: ResizeTransform,
  minArea: number,
  maxRegions: number,
): Region[] {
  const pxArea = (g.strideX / t.scaleX) * (g.strideY / t.scaleY);
  return found
    .map((r) => ({
      found: r,
      region: {
        label: labels[r.cls]!,
        area: r.pixels * pxArea,
        maskArea: r.pixels,
        box: toOriginalBox(
          r.minX * g.strideX,
          r.minY * g.strideY,
          (r.maxX + 1) * g.strideX,
          (r.maxY + 1) * g.strideY,
          t,
        ),
        score: unit(r.scoreSum / r.pixels),
      },
    }))
    .filter(({ region }) => region.area >= minArea)
    .sort((a, b) => b.region.area - a.region.area || b.region.score - a.region.score)
    .slice(0, maxRegions)
    .map(({ found: r, region }) => {
      const corners = simplifyClosed(
        traceOutline(classes, g.width, g.height, r.cls, r.start),
        0.75,
        MAX_OUTLINE_POINTS,
      );
      const outline = corners.map(([x, y]) => toOriginalPoint(x * g.strideX, y * g.strideY, t));
      return { ...region, outline };
    });
}
