import { KensaError } from "@kensa/contracts";
import sharp from "sharp";
import { decodeImage } from "../limits/image-gate.js";

/** A binary mask, row-major, one byte per pixel: 255 inside, 0 outside. */
export interface BinaryMask {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Encodes a mask as the canonical PNG (8-bit grey, fixed settings), so equal masks are equal
 * blobs and a mask survives export → import byte for byte.
 */
export async function encodeMask(m: BinaryMask): Promise<Buffer> {
  return sharp(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), {
    raw: { width: m.width, height: m.height, channels: 1 },
  })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/**
 * Decodes a mask image: grey (or the luminance of colour) above `threshold` is inside.
 * Annotation tools anti-alias edges, so a plain `> 0` would grow every mask. `pixels`: the
 * pixel budget (limits.imagePixels) when not this process's own.
 */
export async function decodeMask(bytes: Uint8Array, threshold = 127, pixels?: number): Promise<BinaryMask> {
  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    raw = await decodeImage(
      bytes,
      (limitInputPixels) =>
        sharp(bytes, { failOn: "truncated", limitInputPixels })
          .toColourspace("b-w")
          .extractChannel(0)
          .raw()
          .toBuffer({ resolveWithObject: true }),
      pixels,
    );
  } catch (err) {
    if (err instanceof KensaError) throw err;
    throw new KensaError(
      "KENSA_ERR_DATASET_ANNOTATION_INVALID",
      `the mask cannot be decoded: ${(err as Error).message}`,
    );
  }
  const data = new Uint8Array(raw.info.width * raw.info.height);
  for (let i = 0; i < data.length; i++) data[i] = (raw.data[i] ?? 0) > threshold ? 255 : 0;
  return { width: raw.info.width, height: raw.info.height, data };
}

export function isEmpty(m: BinaryMask): boolean {
  for (const v of m.data) if (v) return false;
  return true;
}

/** The tight box around a mask's pixels, or null when it is empty. */
export function maskBox(m: BinaryMask): { x: number; y: number; w: number; h: number } | null {
  let x0 = m.width;
  let y0 = m.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Union of masks of one size. */
export function unionMasks(masks: BinaryMask[]): BinaryMask | null {
  const first = masks[0];
  if (!first) return null;
  const data = new Uint8Array(first.data.length);
  for (const m of masks) for (let i = 0; i < data.length; i++) if (m.data[i]) data[i] = 255;
  return { width: first.width, height: first.height, data };
}

/**
 * Fills polygons (flat `[x1, y1, x2, y2, …]` in pixels) by the even-odd rule, sampling each
 * pixel at its centre. Deterministic; close to, not bit-identical with, pycocotools.
 */
export function rasterizePolygons(polygons: number[][], width: number, height: number): BinaryMask {
  const data = new Uint8Array(width * height);
  const crossings: number[] = [];
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    crossings.length = 0;
    for (const poly of polygons) {
      const n = Math.floor(poly.length / 2);
      for (let i = 0; i < n; i++) {
        const ax = poly[2 * i]!;
        const ay = poly[2 * i + 1]!;
        const bx = poly[2 * ((i + 1) % n)]!;
        const by = poly[2 * ((i + 1) % n) + 1]!;
        if (ay <= cy === by <= cy) continue;
        crossings.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
      }
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const from = Math.max(0, Math.ceil(crossings[k]! - 0.5));
      const to = Math.min(width - 1, Math.floor(crossings[k + 1]! - 0.5));
      for (let x = from; x <= to; x++) data[y * width + x] = 255;
    }
  }
  return { width, height, data };
}
