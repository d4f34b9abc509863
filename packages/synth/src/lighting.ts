import { mulberry32, streamKey } from "./mulberry32.js";
import type { SurfaceKind } from "./surface-kind.js";

/** Stream purpose of the camera's lighting (see render-frame.ts for the others). */
export const STREAM_CAMERA = 4;

/**
 * Diffuse light: a per-camera grey level and gradient direction (the station does not move),
 * jittered per frame as parts and exposure vary. Brushed metal shows a broad specular band
 * along the brushing direction, glazed tiles a weaker one. Returns the direction the light
 * comes from (radians, image axes), which raised or recessed defects shade against.
 *
 * The arithmetic for jitter 1 is exactly what it was before `jitter` existed: plain-surface
 * frames must keep their bytes.
 */
export function lighting(
  lum: Float32Array,
  width: number,
  height: number,
  surface: SurfaceKind,
  seed: number,
  index: number,
  jitter: number,
): number {
  const cam = mulberry32(streamKey(seed, STREAM_CAMERA));
  const base0 = 0.5 + 0.1 * cam();
  const angle = cam() * Math.PI * 2;
  const strength0 = 0.06 + 0.1 * cam();
  const frame = mulberry32(streamKey(seed, index, STREAM_CAMERA));
  const base = base0 + (frame() - 0.5) * 0.03 * jitter;
  const k = 0.8 + 0.4 * frame();
  const strength = strength0 * (jitter === 1 ? k : Math.max(0, 1 + (k - 1) * jitter));
  const gx = (Math.cos(angle) * strength) / width;
  const gy = (Math.sin(angle) * strength) / height;
  const bandY = frame() * height;
  const bandSigma = 0.35 * height;
  const bandAmp =
    surface === "brushed-metal" ? 0.03 + 0.02 * frame() : surface === "ceramic-tile" ? 0.02 + 0.03 * frame() : 0;
  for (let y = 0; y < height; y++) {
    const dy = (y - bandY) / bandSigma;
    const rowBase = base + gy * (y - height / 2) + bandAmp * Math.exp(-0.5 * dy * dy);
    const row = y * width;
    for (let x = 0; x < width; x++) lum[row + x] = rowBase + gx * (x - width / 2);
  }
  return angle;
}
