import type { Rgb } from "./rgb.js";
import type { SurfaceLayout } from "./surface-layout.js";

export type { Rgb };

/** The frame being drawn, shared by surface and defect renderers. Pixel (x, y) has its centre at (x, y). */
export interface Raster {
  readonly width: number;
  readonly height: number;
  /** frame size relative to 320x240; sizes in comments are for scale 1 */
  readonly scale: number;
  /** luminance (lighting + texture + shading), about 0.5 on a lit part, row-major */
  readonly lum: Float32Array;
  /** interleaved RGB reflectance for coloured surfaces; null for the grey ones, tinted at the end */
  readonly albedo: Float32Array | null;
  /** the features a patterned surface drew, for missing- and extra-feature defects */
  readonly layout: SurfaceLayout | null;
  /** where the light comes from, radians in image axes (x right, y down) */
  readonly lightAngle: number;
}

/** albedo[i] = mix(albedo[i], c, p) for pixel i. */
export function paint(albedo: Float32Array, i: number, c: Rgb, p: number): void {
  const j = i * 3;
  albedo[j] = albedo[j]! + (c[0] - albedo[j]!) * p;
  albedo[j + 1] = albedo[j + 1]! + (c[1] - albedo[j + 1]!) * p;
  albedo[j + 2] = albedo[j + 2]! + (c[2] - albedo[j + 2]!) * p;
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : Math.min(v, 1);
}
