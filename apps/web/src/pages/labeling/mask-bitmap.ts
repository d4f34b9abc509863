/** A binary mask as the hub defines it: row-major, one byte per pixel, 255 inside, 0 outside. */
export interface MaskBitmap {
  width: number;
  height: number;
  data: Uint8Array;
}

export type Point = readonly [number, number];

export function emptyMask(width: number, height: number): MaskBitmap {
  return { width, height, data: new Uint8Array(width * height) };
}

export function cloneMask(m: MaskBitmap): MaskBitmap {
  return { width: m.width, height: m.height, data: m.data.slice() };
}

/** Paints a disc of `radius` px at (cx, cy); value 255 paints, 0 erases. */
function stampDisc(m: MaskBitmap, cx: number, cy: number, radius: number, value: number): void {
  const r2 = radius * radius;
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(m.width - 1, Math.ceil(cx + radius));
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(m.height - 1, Math.ceil(cy + radius));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) m.data[y * m.width + x] = value;
    }
  }
}

/**
 * Paints the stroke from `a` to `b` with a round brush. Discs are stamped every half radius so
 * a fast pointer (which reports sparse points) still leaves a continuous line.
 */
export function strokeMask(m: MaskBitmap, a: Point, b: Point, radius: number, value: 0 | 255): void {
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
  const steps = Math.max(1, Math.ceil(len / Math.max(0.5, radius / 2)));
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    stampDisc(m, a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, radius, value);
  }
}

/**
 * Fills a polygon by the even-odd rule, sampling each pixel at its centre: the same rule the
 * hub uses to rasterise COCO polygons, so a drawn polygon and an imported one agree.
 */
export function fillPolygon(m: MaskBitmap, points: readonly Point[], value: 0 | 255): void {
  const n = points.length;
  if (n < 3) return;
  const xs: number[] = [];
  for (let y = 0; y < m.height; y++) {
    const cy = y + 0.5;
    xs.length = 0;
    for (let i = 0; i < n; i++) {
      const [ax, ay] = points[i]!;
      const [bx, by] = points[(i + 1) % n]!;
      if (ay <= cy === by <= cy) continue;
      xs.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const to = Math.min(m.width - 1, Math.floor(xs[k + 1]! - 0.5));
      for (let x = from; x <= to; x++) m.data[y * m.width + x] = value;
    }
  }
}

export function isEmptyMask(m: MaskBitmap): boolean {
  for (const v of m.data) if (v) return false;
  return true;
}

/** The tight box around the mask's pixels, or null when it is empty. */
export function maskBounds(m: MaskBitmap): { x: number; y: number; w: number; h: number } | null {
  let x0 = m.width;
  let y0 = m.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < m.height; y++) {
    const row = y * m.width;
    for (let x = 0; x < m.width; x++) {
      if (m.data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/**
 * Decodes a mask PNG (any colour type) into a bitmap: luminance above 127 is inside, as the
 * hub's own decoder reads it, so an anti-aliased mask from another tool keeps its size.
 */
export async function decodeMaskPng(blob: Blob): Promise<MaskBitmap> {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = document.createElement("canvas");
  canvas.width = bmp.width;
  canvas.height = bmp.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) throw new Error("this browser cannot read canvas pixels");
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const m = emptyMask(canvas.width, canvas.height);
  for (let i = 0; i < m.data.length; i++) {
    const lum = 0.299 * rgba[4 * i]! + 0.587 * rgba[4 * i + 1]! + 0.114 * rgba[4 * i + 2]!;
    m.data[i] = lum > 127 ? 255 : 0;
  }
  return m;
}
