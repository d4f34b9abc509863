import type { Rng } from "./mulberry32.js";
import { renderFabric } from "./render-fabric.js";
import { renderPcb } from "./render-pcb.js";
import { renderTiles } from "./render-tiles.js";
import type { SurfaceLayout } from "./surface-layout.js";

/**
 * Draws a coloured, patterned surface: reflectance into `albedo` (interleaved RGB), shading and
 * texture added to `lum`. `rng` is the frame's stream (placement, texture); `design` the
 * camera's (pattern, colours, board layout), the same for every frame. Returns the features
 * that missing- and extra-feature defects act on, if the surface has any.
 */
export function renderPatternedSurface(
  kind: "woven-fabric" | "ceramic-tile" | "pcb",
  lum: Float32Array,
  albedo: Float32Array,
  width: number,
  height: number,
  scale: number,
  lightAngle: number,
  rng: Rng,
  design: Rng,
): SurfaceLayout | null {
  if (kind === "woven-fabric") {
    renderFabric(lum, albedo, width, height, scale, rng, design);
    return null;
  }
  if (kind === "ceramic-tile") return renderTiles(lum, albedo, width, height, scale, lightAngle, rng, design);
  return renderPcb(lum, albedo, width, height, scale, rng, design);
}
