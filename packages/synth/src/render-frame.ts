import sharp from "sharp";
import { DefectRegion } from "./defect-region.js";
import { defectClassIndex, type SynthDefect } from "./defect-type.js";
import { drawDefect } from "./draw-defect.js";
import { applyDrift, blurRows, frameHardness, isHard, scaleSince } from "./hardness.js";
import { lighting } from "./lighting.js";
import { mulberry32, mulberry32Bits, streamKey } from "./mulberry32.js";
import type { Raster } from "./raster.js";
import { renderPatternedSurface } from "./render-patterned-surface.js";
import { renderSurface } from "./render-surface.js";
import type { SurfaceLayout } from "./surface-layout.js";
import { resolveSynthOptions, type SynthOptions } from "./synth-options.js";

export interface SynthFrame {
  index: number;
  seed: number;
  width: number;
  height: number;
  jpeg: Buffer;
  /** ground truth: the first defect drawn into this frame, or null for an OK frame */
  defect: SynthDefect | null;
  /** every defect drawn into this frame, in drawing order (empty for an OK frame) */
  defects: SynthDefect[];
  /**
   * with `masks: true`: a single-channel 8-bit PNG, 0 = background, k = `defectClassIndex` of
   * the defect covering the pixel (the later-drawn one where two overlap)
   */
  mask?: Buffer;
}

/** Raw interleaved RGB (3 bytes per pixel) and its ground truth, before encoding. */
export interface SynthPixels {
  width: number;
  height: number;
  rgb: Uint8Array;
  defect: SynthDefect | null;
  defects: SynthDefect[];
  /** with `masks: true`: the class mask, one byte per pixel, row-major (see SynthFrame.mask) */
  mask?: Uint8Array;
  /** with `masks: true`: each defect's own pixels as row-major indices, parallel to `defects` */
  defectPixels?: Int32Array[];
}

// Stream purposes: each aspect of a frame draws from its own stream, so changing how a
// texture is drawn never changes which frames have defects.
const STREAM_DEFECT = 1;
const STREAM_SURFACE = 2;
const STREAM_NOISE = 3;
// 4 is the lighting's (lighting.ts)
const STREAM_MORE_DEFECTS = 5;
const STREAM_DESIGN = 6;
// 7 is the hardness draws' (hardness.ts)

// luminance at which a coloured surface shows its albedo: a lit part sits at 0.5..0.6
const ALBEDO_GAIN = 255 / 0.6;

// Planes reused from frame to frame: renderPixels is synchronous, so no two calls use them at
// once, and lighting and every surface write each pixel before anything reads it. Allocating
// them per frame cost ~7% of a 640x480 frame in GC. Not kept beyond 1920x1080, so one large
// render does not pin hundreds of MB.
const POOL_MAX_PIXELS = 1920 * 1080;
let pooledLum = new Float32Array(0);
let pooledAlbedo = new Float32Array(0);

function plane(pixels: number, channels: 1 | 3): Float32Array {
  const n = pixels * channels;
  if (pixels > POOL_MAX_PIXELS) return new Float32Array(n);
  if (channels === 1) {
    if (pooledLum.length !== n) pooledLum = new Float32Array(n);
    return pooledLum;
  }
  if (pooledAlbedo.length !== n) pooledAlbedo = new Float32Array(n);
  return pooledAlbedo;
}

/**
 * Renders frame `index` of the camera described by `opts` as raw RGB. A pure function of its
 * arguments: every random draw comes from streams keyed by (seed, index, purpose).
 */
export function renderPixels(index: number, opts: SynthOptions): SynthPixels {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`synth: index must be a non-negative integer, got ${index}`);
  }
  const o = resolveSynthOptions(opts);
  const { width, height, seed, surface } = o;
  const scale = Math.min(width / 320, height / 240);
  const lum = plane(width * height, 1);

  const lightAngle = lighting(lum, width, height, surface, seed, index, o.lightingJitter);
  // hardness (faint defects, drift, texture, blur) only when asked for: default frames keep their bytes
  const hard = isHard(o) ? frameHardness(seed, index, o, scale) : null;
  const beforeSurface = hard && o.texture !== 1 ? Float32Array.from(lum) : null;
  const surfaceRng = mulberry32(streamKey(seed, index, STREAM_SURFACE));
  let albedo: Float32Array | null = null;
  let layout: SurfaceLayout | null = null;
  if (surface === "brushed-metal" || surface === "cast") {
    renderSurface(lum, width, height, surface, surfaceRng, scale);
  } else {
    albedo = plane(width * height, 3);
    const design = mulberry32(streamKey(seed, STREAM_DESIGN));
    layout = renderPatternedSurface(surface, lum, albedo, width, height, scale, lightAngle, surfaceRng, design);
  }
  if (beforeSurface) scaleSince(lum, beforeSurface, o.texture);
  const raster: Raster = { width, height, scale, lum, albedo, layout, lightAngle };

  const defects: SynthDefect[] = [];
  const regions: DefectRegion[] = [];
  const defectRng = mulberry32(streamKey(seed, index, STREAM_DEFECT));
  if (defectRng() < o.defectRate) {
    const beforeDefects = hard && hard.severity !== 1 ? Float32Array.from(lum) : null;
    const region = new DefectRegion(width, height);
    defects.push(drawDefect(raster, o.defects, defectRng, region));
    regions.push(region);
    // further defects come from their own stream: the first is the same whatever maxDefects is
    if (o.maxDefects > 1) {
      const more = mulberry32(streamKey(seed, index, STREAM_MORE_DEFECTS));
      const n = Math.floor(more() * o.maxDefects);
      for (let k = 0; k < n; k++) {
        const r = new DefectRegion(width, height);
        defects.push(drawDefect(raster, o.defects, more, r));
        regions.push(r);
      }
    }
    // a faint defect is the same shape at a fraction of its contrast; its mask stays as drawn
    if (beforeDefects) scaleSince(lum, beforeDefects, hard!.severity);
  }
  if (hard) {
    applyDrift(lum, hard.gain, hard.offset);
    blurRows(lum, width, height, hard.blurWindow);
  }

  // a clamped array rounds and saturates on store: ~5x faster than Math.round + clamping in JS
  const rgb = new Uint8ClampedArray(width * height * 3);
  // triangular noise (sum of two uniforms) with SD 0.012 by default, about 3 grey levels: a
  // clean industrial sensor at base ISO; shared by the channels like luminance noise
  const noiseGain = o.noise * Math.sqrt(6);
  if (albedo === null) {
    // steel and aluminium look faintly blue under LED light, cast iron faintly warm
    const tint = surface === "brushed-metal" ? [0.985, 1, 1.025] : [1.02, 1, 0.965];
    const tr = tint[0]! * 255;
    const tg = tint[1]! * 255;
    const tb = tint[2]! * 255;
    const noise = mulberry32(streamKey(seed, index, STREAM_NOISE));
    for (let i = 0, j = 0; i < lum.length; i++, j += 3) {
      const v = lum[i]! + (noise() + noise() - 1) * noiseGain;
      rgb[j] = v * tr;
      rgb[j + 1] = v * tg;
      rgb[j + 2] = v * tb;
    }
  } else {
    // the same triangular noise from one draw split into two 16-bit uniforms: half the draws
    // of the plain path, whose stream cannot change
    const gain = noiseGain / 65536;
    const noiseBits = mulberry32Bits(streamKey(seed, index, STREAM_NOISE));
    for (let i = 0, j = 0; i < lum.length; i++, j += 3) {
      const bits = noiseBits();
      const v = (lum[i]! + ((bits & 0xffff) + (bits >>> 16) - 65535) * gain) * ALBEDO_GAIN;
      rgb[j] = albedo[j]! * v;
      rgb[j + 1] = albedo[j + 1]! * v;
      rgb[j + 2] = albedo[j + 2]! * v;
    }
  }
  const px: SynthPixels = { width, height, rgb: new Uint8Array(rgb.buffer), defect: defects[0] ?? null, defects };
  if (o.masks) {
    const mask = new Uint8Array(width * height);
    const defectPixels = regions.map((r) => r.pixels());
    for (let k = 0; k < defects.length; k++) {
      const cls = defectClassIndex[defects[k]!.type];
      for (const i of defectPixels[k]!) mask[i] = cls;
    }
    px.mask = mask;
    px.defectPixels = defectPixels;
  }
  return px;
}

/** JPEG-encodes rendered pixels as renderFrame does (the dataset writer shares it). */
export function encodeJpeg(px: SynthPixels, quality: number): Promise<Buffer> {
  return sharp(px.rgb, { raw: { width: px.width, height: px.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** A class mask as a single-channel 8-bit PNG. */
export function encodeMaskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  // without the explicit colourspace libvips widens one channel to RGB on output
  return sharp(mask, { raw: { width, height, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
}

/**
 * Frame `index` of the synthetic camera `opts`, JPEG-encoded. Same arguments, same bytes (for
 * a given sharp/libjpeg build), without rendering the frames before it.
 */
export async function renderFrame(index: number, opts: SynthOptions): Promise<SynthFrame> {
  const o = resolveSynthOptions(opts);
  const px = renderPixels(index, o);
  const [jpeg, mask] = await Promise.all([
    encodeJpeg(px, o.jpegQuality),
    px.mask ? encodeMaskPng(px.mask, px.width, px.height) : undefined,
  ]);
  const frame: SynthFrame = {
    index,
    seed: o.seed,
    width: px.width,
    height: px.height,
    jpeg,
    defect: px.defect,
    defects: px.defects,
  };
  if (mask) frame.mask = mask;
  return frame;
}
