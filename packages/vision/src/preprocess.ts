import { type InputSpec, KensaError, type Preprocessing } from "@kensa/contracts";
import sharp from "sharp";
import { imageSize } from "./image-size.js";
import { messageOf } from "./load-model.js";
import { planResize, type ResizeTransform } from "./resize-transform.js";

/** A model-ready tensor of one image; width/height are the ORIGINAL image's size in px. */
export interface Preprocessed {
  data: Float32Array;
  dims: [number, number, number, number];
  width: number;
  height: number;
  /** where the original image lies in the input tensor, to map boxes and masks back */
  transform: ResizeTransform;
  /** the resized image's bytes (HWC, input.channels) the tensor was made of; reference-input aligns on them */
  raw?: Uint8Array;
}

/** The grey Ultralytics pads letterboxed images with, so YOLO exports see what they trained on. */
const LETTERBOX_GREY = { r: 114, g: 114, b: 114, alpha: 1 };

/**
 * Decodes an encoded image (JPEG, PNG, WebP, …) and turns it into the model's input tensor:
 * resize per `pre.resize` (see planResize for the exact geometry), grey or RGB per
 * `input.channels`, then `(value * scale - mean[c]) / std[c]` in `input.layout`. EXIF
 * orientation is not applied: trainers read the stored pixels too, and camera frames carry none.
 * Throws KENSA_ERR_MEDIA_INVALID when the bytes do not decode.
 */
export async function preprocess(image: Uint8Array, input: InputSpec, pre: Preprocessing): Promise<Preprocessed> {
  try {
    // sharp shrinks JPEGs while decoding when the target is ≥ 2x smaller: most of the speed-up
    // on camera frames, so the resize must stay in the same pipeline as the decode
    // sharp's default failOn "warning" rejects truncated frames instead of inferring on grey fill
    const img = sharp(image);
    // sizes from the header in JS hand the decode to sharp in one call (see imageSize)
    const size = imageSize(image) ?? (await img.metadata());
    if (!size.width || !size.height) throw new Error("no image dimensions");
    return await fitToInput(img, size.width, size.height, input, pre);
  } catch (err) {
    throw new KensaError("KENSA_ERR_MEDIA_INVALID", `The image cannot be decoded: ${messageOf(err)}`);
  }
}

/**
 * A width×height sharp image → the model's input tensor (resize, pad or crop, channels,
 * normalisation); the geometry is planResize's. Throws the library's own errors.
 */
export async function fitToInput(
  img: sharp.Sharp,
  width: number,
  height: number,
  input: InputSpec,
  pre: Preprocessing,
): Promise<Preprocessed> {
  const channels = input.channels;
  const plan = planResize(width, height, input, pre.resize);
  const transform = plan.transform;
  let pipeline = img.removeAlpha().resize(plan.resizeWidth, plan.resizeHeight, { fit: "fill" });
  if (pre.resize === "letterbox") {
    pipeline = pipeline.extend({
      left: plan.left,
      top: plan.top,
      right: input.width - plan.resizeWidth - plan.left,
      bottom: input.height - plan.resizeHeight - plan.top,
      background: LETTERBOX_GREY,
    });
  } else if (pre.resize === "center-crop") {
    // extract after resize crops the resized image (sharp orders it by call order)
    pipeline = pipeline.extract({ left: plan.left, top: plan.top, width: input.width, height: input.height });
  }
  pipeline = channels === 1 ? pipeline.greyscale() : pipeline.toColourspace("srgb");
  const out = await pipeline.raw().toBuffer({ resolveWithObject: true });
  let raw = out.data;
  if (out.info.width !== input.width || out.info.height !== input.height) {
    throw new Error(`resize produced ${out.info.width}x${out.info.height}`);
  }
  if (out.info.channels !== channels) raw = toChannels(raw, out.info.channels, channels);
  const data = toTensor(raw, input, pre);
  return { data, dims: inputDims(input), width: transform.width, height: transform.height, transform, raw };
}

/** Interleaved bytes (HWC) → normalised floats in the model's layout. */
export function toTensor(raw: Uint8Array, input: InputSpec, pre: Preprocessing): Float32Array {
  const c = input.channels;
  const n = input.width * input.height;
  const data = new Float32Array(n * c);
  for (let ch = 0; ch < c; ch++) {
    // a single mean/std applies to every channel (the schema allows 1..3 values)
    const mean = pre.mean[ch] ?? pre.mean[0] ?? 0;
    const std = pre.std[ch] ?? pre.std[0] ?? 1;
    const gain = pre.scale / std;
    const offset = mean / std;
    if (input.layout === "NHWC") {
      for (let i = ch; i < n * c; i += c) data[i] = raw[i]! * gain - offset;
    } else {
      const base = ch * n;
      for (let i = 0; i < n; i++) data[base + i] = raw[i * c + ch]! * gain - offset;
    }
  }
  return data;
}

/** Defensive: libvips keeps a grey PNG single-band unless told otherwise; never feed the wrong band count. */
export function toChannels(raw: Buffer, have: number, want: 1 | 3): Buffer {
  const n = raw.length / have;
  const out = Buffer.alloc(n * want);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < want; c++) out[i * want + c] = raw[i * have + Math.min(c, have - 1)]!;
  }
  return out;
}

/** The tensor shape of one image for this input spec: [1,C,H,W] or [1,H,W,C]. */
export function inputDims(input: InputSpec): [number, number, number, number] {
  return input.layout === "NHWC"
    ? [1, input.height, input.width, input.channels]
    : [1, input.channels, input.height, input.width];
}
