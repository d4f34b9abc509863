import sharp from "sharp";
import { drawDefect, type SynthDefect } from "./draw-defect.js";
import { mulberry32, streamKey } from "./mulberry32.js";
import { renderSurface, type SurfaceKind, surfaceKinds } from "./render-surface.js";

export interface SynthOptions {
  seed: number;
  /** px, default 320 */
  width?: number;
  /** px, default 240 */
  height?: number;
  /** probability that a frame has a defect, 0..1, default 0.3 */
  defectRate?: number;
  /** default "brushed-metal" */
  surface?: SurfaceKind;
  /** JPEG quality 1..100, default 85 */
  jpegQuality?: number;
}

export interface SynthFrame {
  index: number;
  seed: number;
  width: number;
  height: number;
  jpeg: Buffer;
  /** ground truth: the defect drawn into this frame, or null for an OK frame */
  defect: SynthDefect | null;
}

/** Raw interleaved RGB (3 bytes per pixel) and its ground truth, before JPEG encoding. */
export interface SynthPixels {
  width: number;
  height: number;
  rgb: Uint8Array;
  defect: SynthDefect | null;
}

export type ResolvedSynthOptions = Required<SynthOptions>;

// Stream purposes: each aspect of a frame draws from its own stream, so changing how a
// texture is drawn never changes which frames have defects.
const STREAM_DEFECT = 1;
const STREAM_SURFACE = 2;
const STREAM_NOISE = 3;
const STREAM_CAMERA = 4;

/** Applies defaults and rejects out-of-range options with a RangeError naming the option. */
export function resolveSynthOptions(opts: SynthOptions): ResolvedSynthOptions {
  const o: ResolvedSynthOptions = {
    seed: opts.seed,
    width: opts.width ?? 320,
    height: opts.height ?? 240,
    defectRate: opts.defectRate ?? 0.3,
    surface: opts.surface ?? "brushed-metal",
    jpegQuality: opts.jpegQuality ?? 85,
  };
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`synth: seed must be a safe integer, got ${o.seed}`);
  // below 32 px the largest defects no longer fit
  for (const k of ["width", "height"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 32 || o[k] > 8192) {
      throw new RangeError(`synth: ${k} must be an integer in 32..8192, got ${o[k]}`);
    }
  }
  if (!(o.defectRate >= 0 && o.defectRate <= 1)) {
    throw new RangeError(`synth: defectRate must be in 0..1, got ${o.defectRate}`);
  }
  if (!surfaceKinds.includes(o.surface)) {
    throw new RangeError(`synth: surface must be one of ${surfaceKinds.join(", ")}, got ${o.surface}`);
  }
  if (!Number.isInteger(o.jpegQuality) || o.jpegQuality < 1 || o.jpegQuality > 100) {
    throw new RangeError(`synth: jpegQuality must be an integer in 1..100, got ${o.jpegQuality}`);
  }
  return o;
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
  const { width, height, seed } = o;
  const scale = Math.min(width / 320, height / 240);
  const lum = new Float32Array(width * height);

  lighting(lum, width, height, o.surface, seed, index);
  renderSurface(lum, width, height, o.surface, mulberry32(streamKey(seed, index, STREAM_SURFACE)), scale);

  const defectRng = mulberry32(streamKey(seed, index, STREAM_DEFECT));
  const defect = defectRng() < o.defectRate ? drawDefect(lum, width, height, defectRng, scale) : null;

  // a clamped array rounds and saturates on store: ~5x faster than Math.round + clamping in JS
  const rgb = new Uint8ClampedArray(width * height * 3);
  // steel and aluminium look faintly blue under LED light, cast iron faintly warm
  const tint = o.surface === "brushed-metal" ? [0.985, 1, 1.025] : [1.02, 1, 0.965];
  const tr = tint[0]! * 255;
  const tg = tint[1]! * 255;
  const tb = tint[2]! * 255;
  const noise = mulberry32(streamKey(seed, index, STREAM_NOISE));
  // triangular noise (sum of two uniforms) with SD 0.012, about 3 grey levels: a clean
  // industrial sensor at base ISO; shared by the channels like luminance noise
  const noiseGain = 0.012 * Math.sqrt(6);
  for (let i = 0, j = 0; i < lum.length; i++, j += 3) {
    const v = lum[i]! + (noise() + noise() - 1) * noiseGain;
    rgb[j] = v * tr;
    rgb[j + 1] = v * tg;
    rgb[j + 2] = v * tb;
  }
  return { width, height, rgb: new Uint8Array(rgb.buffer), defect };
}

/**
 * Diffuse light: a per-camera grey level and gradient direction (the station does not move),
 * jittered per frame as parts and exposure vary. Brushed metal also shows a broad specular band
 * along the brushing direction.
 */
function lighting(
  lum: Float32Array,
  width: number,
  height: number,
  surface: SurfaceKind,
  seed: number,
  index: number,
): void {
  const cam = mulberry32(streamKey(seed, STREAM_CAMERA));
  const base0 = 0.5 + 0.1 * cam();
  const angle = cam() * Math.PI * 2;
  const strength0 = 0.06 + 0.1 * cam();
  const frame = mulberry32(streamKey(seed, index, STREAM_CAMERA));
  const base = base0 + (frame() - 0.5) * 0.03;
  const strength = strength0 * (0.8 + 0.4 * frame());
  const gx = (Math.cos(angle) * strength) / width;
  const gy = (Math.sin(angle) * strength) / height;
  const bandY = frame() * height;
  const bandSigma = 0.35 * height;
  const bandAmp = surface === "brushed-metal" ? 0.03 + 0.02 * frame() : 0;
  for (let y = 0; y < height; y++) {
    const dy = (y - bandY) / bandSigma;
    const rowBase = base + gy * (y - height / 2) + bandAmp * Math.exp(-0.5 * dy * dy);
    const row = y * width;
    for (let x = 0; x < width; x++) lum[row + x] = rowBase + gx * (x - width / 2);
  }
}

/**
 * Frame `index` of the synthetic camera `opts`, JPEG-encoded. Same arguments, same bytes (for
 * a given sharp/libjpeg build), without rendering the frames before it.
 */
export async function renderFrame(index: number, opts: SynthOptions): Promise<SynthFrame> {
  const o = resolveSynthOptions(opts);
  const px = renderPixels(index, o);
  const jpeg = await sharp(px.rgb, { raw: { width: px.width, height: px.height, channels: 3 } })
    .jpeg({ quality: o.jpegQuality })
    .toBuffer();
  return { index, seed: o.seed, width: px.width, height: px.height, jpeg, defect: px.defect };
}
