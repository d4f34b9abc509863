import { mulberry32, type Rng, streamKey } from "./mulberry32.js";

/** Stream purpose of the hardness draws (faint defects, blur, drift phase); see render-frame.ts. */
export const STREAM_HARDNESS = 7;

// frames per full cycle of the lighting drift: at the demo's 2 fps about 4 minutes, slow next
// to a retrain, fast enough that a run of a few minutes sees the light change
export const DRIFT_PERIOD_FRAMES = 480;

/** What makes a frame harder to inspect than the default camera; every value at 0 (or 1) is a no-op. */
export interface Hardness {
  /** share of defective frames whose defects are drawn at 20–55 % of their usual contrast */
  faint: number;
  /** lighting drift amplitude: brightness ±0.1·drift, contrast ×(1 ± 0.35·drift) over DRIFT_PERIOD_FRAMES */
  drift: number;
  /** surface texture amplitude relative to the default (1) */
  texture: number;
  /** share of frames blurred along one axis (motion or focus slip), window 3–7 px at 320×240 */
  blur: number;
}

/** Per-frame draws of the hardness stream; drawn only when some hardness is asked for. */
export interface FrameHardness {
  /** multiplier of the defects' contrast: 1, or 0.2..0.55 for a faint frame */
  severity: number;
  /** box-blur window in px along x (0 = no blur) */
  blurWindow: number;
  /** contrast gain and brightness offset of the drift at this frame */
  gain: number;
  offset: number;
}

export function isHard(h: Hardness): boolean {
  return h.faint > 0 || h.drift > 0 || h.texture !== 1 || h.blur > 0;
}

/** The frame's hardness draws: a pure function of (seed, index) and the options. */
export function frameHardness(seed: number, index: number, h: Hardness, scale: number): FrameHardness {
  const rng: Rng = mulberry32(streamKey(seed, index, STREAM_HARDNESS));
  const faintDraw = rng();
  const severityDraw = rng();
  const blurDraw = rng();
  const windowDraw = rng();
  // each camera drifts with its own phase: two stations are not lit alike at the same moment
  const cam = mulberry32(streamKey(seed, STREAM_HARDNESS));
  const phaseB = cam() * Math.PI * 2;
  const phaseC = cam() * Math.PI * 2;
  const t = (index / DRIFT_PERIOD_FRAMES) * Math.PI * 2;
  return {
    severity: faintDraw < h.faint ? 0.2 + 0.35 * severityDraw : 1,
    blurWindow: blurDraw < h.blur ? Math.max(2, Math.round((3 + 4 * windowDraw) * scale)) : 0,
    gain: 1 + 0.35 * h.drift * Math.sin(t + phaseC),
    offset: 0.1 * h.drift * Math.sin(t + phaseB),
  };
}

/** lum = before + (lum − before)·k: scales whatever was drawn since `before` was copied. */
export function scaleSince(lum: Float32Array, before: Float32Array, k: number): void {
  for (let i = 0; i < lum.length; i++) lum[i] = before[i]! + (lum[i]! - before[i]!) * k;
}

/** The drift's contrast and brightness change around mid-grey (0.55, where a lit part sits). */
export function applyDrift(lum: Float32Array, gain: number, offset: number): void {
  if (gain === 1 && offset === 0) return;
  for (let i = 0; i < lum.length; i++) lum[i] = 0.55 + (lum[i]! - 0.55) * gain + offset;
}

/** A horizontal box blur of `window` px, edges clamped. */
export function blurRows(lum: Float32Array, width: number, height: number, window: number): void {
  if (window < 2) return;
  const row = new Float32Array(width);
  const half = Math.floor(window / 2);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) row[x] = lum[base + x]!;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = x - half; k < x - half + window; k++) sum += row[Math.min(width - 1, Math.max(0, k))]!;
      lum[base + x] = sum / window;
    }
  }
}

/**
 * The demo's inspection task (`kensa demo`, `kensa synth --hard`): a third of the defects faint,
 * the light drifting, twice the texture, a tenth of the frames blurred and a noisier sensor.
 * Hard enough that a small model trained on a few hundred frames does not score 1.000.
 */
export const hardPreset = { faint: 0.35, drift: 0.6, texture: 2, blur: 0.1, noise: 0.02 } as const;
