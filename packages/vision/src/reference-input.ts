import { createHash } from "node:crypto";
import { type InputSpec, KensaError, type ModelManifest, type Preprocessing } from "@kensa/contracts";
import sharp from "sharp";
import { messageOf } from "./load-model.js";
import { inputDims, type Preprocessed, toTensor } from "./preprocess.js";

/**
 * Reference-image inspection (docs/training.md): the model's input is the frame, its product's
 * golden reference aligned to it and their absolute difference, 3 × C channels, exactly as the
 * trainer builds it (trainers/torch/kensa_trainer/reference.py). Alignment is integer
 * arithmetic on the images at input size, so both sides find the same shift: the cost of a
 * shift (dx, dy) is the sum of |gradient(frame) − gradient(shifted reference)| over the interior
 * every shift covers, where gradient = |∂x| + |∂y| summed over channels; the lowest cost wins,
 * ties going to the smaller |dx| + |dy|, then the smaller dy, then dx.
 */

/** One image at input size: interleaved bytes (HWC), as sharp's raw output and `Preprocessed.raw`. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** A manifest's references, decoded and checked, by key. */
export interface ReferenceSet {
  maxShift: number;
  defaultKey: string;
  images: Map<string, RawImage>;
}

/** The model's input tensor shape: 3 × the image channels when the manifest has a reference. */
export function modelInputDims(manifest: ModelManifest): [number, number, number, number] {
  const dims = inputDims(manifest.input);
  if (manifest.reference) dims[1] *= 3;
  return dims;
}

/**
 * Decodes the manifest's reference PNGs; null without `reference`. Throws
 * KENSA_ERR_REFERENCE_INVALID when one does not match its sha256, does not decode, or is not at
 * the input's size.
 */
export async function decodeReferences(manifest: ModelManifest): Promise<ReferenceSet | null> {
  const ref = manifest.reference;
  if (!ref) return null;
  const { width, height, channels } = manifest.input;
  const images = new Map<string, RawImage>();
  for (const entry of ref.images) {
    const bytes = Buffer.from(entry.png, "base64");
    const sha = createHash("sha256").update(bytes).digest("hex");
    const bad = (why: string) =>
      new KensaError("KENSA_ERR_REFERENCE_INVALID", `reference "${entry.key}": ${why}`, { key: entry.key });
    if (sha !== entry.sha256) throw bad(`its PNG has sha256 ${sha}, the manifest says ${entry.sha256}`);
    let out: { data: Buffer; info: sharp.OutputInfo };
    try {
      let img = sharp(bytes).removeAlpha();
      img = channels === 1 ? img.greyscale() : img.toColourspace("srgb");
      out = await img.raw().toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw bad(`the PNG does not decode: ${messageOf(err)}`);
    }
    if (out.info.width !== width || out.info.height !== height || out.info.channels !== channels) {
      throw bad(
        `it is ${out.info.width}x${out.info.height}x${out.info.channels}, the input is ${width}x${height}x${channels}`,
      );
    }
    images.set(entry.key, { data: out.data, width, height, channels });
  }
  return { maxShift: ref.maxShift, defaultKey: ref.defaultKey, images };
}

/** The reference for a key (the default key when none is given), else KENSA_ERR_REFERENCE_MISSING. */
export function referenceFor(refs: ReferenceSet, key: string | undefined): RawImage {
  const k = key ?? refs.defaultKey;
  const img = refs.images.get(k);
  if (!img) {
    const known = [...refs.images.keys()].join(", ");
    throw new KensaError(
      "KENSA_ERR_REFERENCE_MISSING",
      `the model has no reference for key "${k}" (it has ${known}); register the product's reference and retrain`,
      { key: k },
    );
  }
  return img;
}

/** |I(x+1) − I(x)| + |I(y+1) − I(y)| summed over channels, 0 at the far edges; row-major H×W. */
export function gradient(img: RawImage): Int32Array {
  const { data, width: w, height: h, channels: c } = img;
  const g = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      const i = (y * w + x) * c;
      for (let ch = 0; ch < c; ch++) {
        const v = data[i + ch]!;
        if (x + 1 < w) sum += Math.abs(data[i + c + ch]! - v);
        if (y + 1 < h) sum += Math.abs(data[i + w * c + ch]! - v);
      }
      g[y * w + x] = sum;
    }
  }
  return g;
}

/** The (dx, dy) that moves `ref` onto `frame` (same size), searched within ±maxShift px. */
export function bestShift(frame: RawImage, ref: RawImage, maxShift: number): [number, number] {
  if (maxShift <= 0) return [0, 0];
  const { width: w, height: h } = frame;
  const s = maxShift;
  const gf = gradient(frame);
  const gr = gradient(ref);
  let best: [number, number, number, number] | null = null; // cost, |dx|+|dy|, dy, dx
  for (let dy = -s; dy <= s; dy++) {
    for (let dx = -s; dx <= s; dx++) {
      let cost = 0;
      for (let y = s; y < h - s; y++) {
        const fr = y * w;
        const rr = (y - dy) * w - dx;
        for (let x = s; x < w - s; x++) cost += Math.abs(gf[fr + x]! - gr[rr + x]!);
      }
      const key: [number, number, number, number] = [cost, Math.abs(dx) + Math.abs(dy), dy, dx];
      if (best === null || lexLess(key, best)) best = key;
    }
  }
  return [best![3], best![2]];
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** img moved by (dx, dy) px, edge pixels repeated: out(y, x) = img(clamp(y − dy), clamp(x − dx)). */
export function shiftImage(img: RawImage, dx: number, dy: number): RawImage {
  if (dx === 0 && dy === 0) return img;
  const { data, width: w, height: h, channels: c } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - dy));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - dx));
      out.set(data.subarray((sy * w + sx) * c, (sy * w + sx + 1) * c), (y * w + x) * c);
    }
  }
  return { data: out, width: w, height: h, channels: c };
}

/** The stacked NCHW input of one frame: its normalised tensor, the aligned reference's, |difference|. */
export function stackInput(
  frame: RawImage,
  frameTensor: Float32Array,
  ref: RawImage,
  maxShift: number,
  input: InputSpec,
  pre: Preprocessing,
): { data: Float32Array; shift: [number, number] } {
  const shift = bestShift(frame, ref, maxShift);
  const aligned = shiftImage(ref, shift[0], shift[1]);
  const r = toTensor(aligned.data, input, pre);
  const n = frameTensor.length;
  const data = new Float32Array(n * 3);
  data.set(frameTensor, 0);
  data.set(r, n);
  for (let i = 0; i < n; i++) data[2 * n + i] = Math.abs(frameTensor[i]! - r[i]!);
  return { data, shift };
}

const decoded = new WeakMap<ModelManifest, Promise<ReferenceSet | null>>();

/** decodeReferences, once per manifest object (the Inferencer and pixel evaluators share it). */
export function referencesOf(manifest: ModelManifest): Promise<ReferenceSet | null> {
  let refs = decoded.get(manifest);
  if (!refs) {
    refs = decodeReferences(manifest);
    decoded.set(manifest, refs);
  }
  return refs;
}

/**
 * A preprocessed frame of a reference manifest becomes the model's stacked input (its `data` and
 * `dims` replaced); any other frame is returned as it is. The frame's reference is `key`'s, the
 * default one without a key (KENSA_ERR_REFERENCE_MISSING when the manifest has none for it).
 */
export async function withReference<T extends Preprocessed>(pre: T, manifest: ModelManifest, key?: string): Promise<T> {
  const refs = await referencesOf(manifest);
  if (!refs) return pre;
  const ref = referenceFor(refs, key);
  const { width, height, channels } = manifest.input;
  const frame = { data: pre.raw!, width, height, channels };
  pre.data = stackInput(frame, pre.data, ref, refs.maxShift, manifest.input, manifest.preprocessing).data;
  pre.dims = modelInputDims(manifest);
  return pre;
}
