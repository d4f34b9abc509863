import type { Rng } from "./mulberry32.js";
import type { Rgb } from "./raster.js";
import { valueNoise } from "./render-surface.js";
import type { TileLayout } from "./surface-layout.js";

// glaze, grout and bisque; grout contrasts with the glaze, as tilers choose it
const palettes: ReadonlyArray<readonly [glaze: Rgb, grout: Rgb, bisque: Rgb]> = [
  [
    [0.86, 0.85, 0.82],
    [0.42, 0.41, 0.39],
    [0.78, 0.64, 0.5],
  ],
  [
    [0.84, 0.79, 0.66],
    [0.45, 0.42, 0.37],
    [0.74, 0.56, 0.42],
  ],
  [
    [0.58, 0.72, 0.82],
    [0.85, 0.84, 0.8],
    [0.8, 0.7, 0.58],
  ],
  [
    [0.7, 0.4, 0.28],
    [0.82, 0.8, 0.75],
    [0.6, 0.34, 0.24],
  ],
  [
    [0.6, 0.68, 0.56],
    [0.86, 0.85, 0.8],
    [0.78, 0.66, 0.52],
  ],
  [
    [0.3, 0.31, 0.33],
    [0.78, 0.77, 0.74],
    [0.66, 0.58, 0.5],
  ],
];

/**
 * Glazed ceramic tiles, 60–100 px square, in a grid of 2.5–4.5 px grout lines. The grout is
 * recessed and sandy; each tile's edges are rounded (lit on the side facing the light, shaded
 * on the other) and each tile is fired a shade lighter or darker than its neighbours. The grid
 * is the camera's, its position the frame's.
 */
export function renderTiles(
  lum: Float32Array,
  albedo: Float32Array,
  width: number,
  height: number,
  scale: number,
  lightAngle: number,
  rng: Rng,
  camera: Rng,
): TileLayout {
  const pitch = Math.max(6, (60 + 40 * camera()) * scale);
  const grout = Math.max(1, (2.5 + 2 * camera()) * scale);
  const [glaze, groutColour, bisque] = palettes[Math.floor(camera() * palettes.length)]!;
  const bevel = Math.max(1, 2.5 * scale);
  const ox = rng() * pitch;
  const oy = rng() * pitch;
  const nx = Math.ceil(width / pitch) + 2;
  const ny = Math.ceil(height / pitch) + 2;
  const shade = new Float32Array(nx * ny);
  for (let i = 0; i < shade.length; i++) shade[i] = 1 + (rng() - 0.5) * 0.06;

  // per column and per row: tile number, grout coverage, bevel shading
  const lx = Math.cos(lightAngle);
  const ly = Math.sin(lightAngle);
  const axis = (n: number, o: number, light: number) => {
    const tile = new Int32Array(n);
    const cover = new Float32Array(n);
    const lit = new Float32Array(n);
    for (let p = 0; p < n; p++) {
      const q = p - o + pitch;
      const i = Math.floor(q / pitch);
      const f = q - i * pitch;
      const d = Math.min(f, pitch - f);
      tile[p] = i;
      cover[p] = Math.min(1, Math.max(0, grout / 2 + 0.5 - d));
      // a rounded edge faces away from the tile: towards -axis near its start, +axis near its end
      const e = Math.max(0, 1 - (d - grout / 2) / bevel);
      lit[p] = d >= grout / 2 ? 0.07 * e * (f < pitch / 2 ? -light : light) : 0;
    }
    return { tile, cover, lit };
  };
  const cols = axis(width, ox, lx);
  const rows = axis(height, oy, ly);
  for (let y = 0; y < height; y++) {
    const ry = rows.cover[y]!;
    const ty = rows.tile[y]! * nx;
    const litY = rows.lit[y]!;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const g = Math.max(cols.cover[x]!, ry);
      const k = row + x;
      const s = shade[ty + cols.tile[x]!]!;
      const j = k * 3;
      albedo[j] = glaze[0] * s + (groutColour[0] - glaze[0] * s) * g;
      albedo[j + 1] = glaze[1] * s + (groutColour[1] - glaze[1] * s) * g;
      albedo[j + 2] = glaze[2] * s + (groutColour[2] - glaze[2] * s) * g;
      // grout sits lower and in the tiles' shadow, and is sandy; only the tile faces carry the
      // bevel light
      lum[k]! += g > 0 ? g * ((rng() - 0.5) * 0.08 - 0.05) + (1 - g) * (cols.lit[x]! + litY) : cols.lit[x]! + litY;
    }
  }
  // glaze is never perfectly even
  valueNoise(lum, width, height, rng, 22 * scale, 0.01);
  return { kind: "tiles", pitch, grout, ox, oy, glaze, groutColour, bisque };
}
