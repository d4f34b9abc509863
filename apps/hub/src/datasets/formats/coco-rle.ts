import type { BinaryMask } from "../masks.js";

/** COCO run-length encoding: runs alternate 0s and 1s, starting with 0s, in column-major order. */
export interface CocoRle {
  size: [number, number];
  counts: number[] | string;
}

/**
 * Decodes an RLE mask; throws a plain Error (the importer reports it as the item's annotation
 * error) when the counts do not cover the size exactly. With `image`, a size other than the
 * image's is refused before anything is allocated: the size comes from the annotation file,
 * and `[30000, 30000]` in a few bytes of JSON would otherwise claim 900 MB.
 */
export function rleDecode(rle: CocoRle, image?: { width: number; height: number }): BinaryMask {
  const [height, width] = rle.size;
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(width) || height < 1 || width < 1) {
    throw new Error(`RLE size ${JSON.stringify(rle.size)} is not [height, width] in whole pixels`);
  }
  if (image && (width !== image.width || height !== image.height)) {
    throw new Error(`the RLE mask is ${width}×${height}, the image ${image.width}×${image.height}`);
  }
  const counts = typeof rle.counts === "string" ? countsFromString(rle.counts) : rle.counts;
  const data = new Uint8Array(width * height);
  let pos = 0;
  let value = 0;
  for (const c of counts) {
    if (!Number.isSafeInteger(c) || c < 0 || pos + c > width * height)
      throw new Error("RLE counts exceed the image size");
    if (value) {
      for (let k = pos; k < pos + c; k++) {
        // column-major index k → row-major pixel
        const x = Math.floor(k / height);
        const y = k % height;
        data[y * width + x] = 255;
      }
    }
    pos += c;
    value ^= 1;
  }
  if (pos !== width * height) throw new Error(`RLE covers ${pos} pixels, the mask has ${width * height}`);
  return { width, height, data };
}

/** Compressed RLE (the string form pycocotools writes). */
export function rleEncode(m: BinaryMask): CocoRle {
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  for (let x = 0; x < m.width; x++) {
    for (let y = 0; y < m.height; y++) {
      const v = m.data[y * m.width + x] ? 1 : 0;
      if (v !== value) {
        counts.push(run);
        run = 0;
        value = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [m.height, m.width], counts: countsToString(counts) };
}

function countsFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error("truncated RLE string");
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

function countsToString(counts: number[]): string {
  let s = "";
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}
