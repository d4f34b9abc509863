import type { Rng } from "./mulberry32.js";
import type { Rgb } from "./raster.js";
import { valueNoise } from "./render-surface.js";

// warp and weft yarn colours: chambray mixes a dyed warp with an undyed weft, most cloth does not
const palettes: ReadonlyArray<readonly [warp: Rgb, weft: Rgb]> = [
  [
    [0.26, 0.36, 0.58],
    [0.62, 0.64, 0.66],
  ],
  [
    [0.66, 0.58, 0.42],
    [0.6, 0.54, 0.4],
  ],
  [
    [0.56, 0.56, 0.56],
    [0.5, 0.5, 0.52],
  ],
  [
    [0.58, 0.17, 0.21],
    [0.5, 0.14, 0.19],
  ],
  [
    [0.45, 0.47, 0.26],
    [0.4, 0.42, 0.23],
  ],
  [
    [0.84, 0.83, 0.8],
    [0.8, 0.79, 0.75],
  ],
];

/**
 * Plain-weave cloth: warp and weft threads 4.5–7.5 px apart cross over and under each other in a
 * checkerboard. Each visible float is brightest along its middle and dips where it goes under,
 * so the gaps between threads are dark (±0.1, far stronger than the plain surfaces' texture);
 * yarns vary in thickness and dye from thread to thread. The cloth lies a little askew
 * (±1.7°) and shifted from frame to frame. Pattern and colour are the camera's.
 */
export function renderFabric(
  lum: Float32Array,
  albedo: Float32Array,
  width: number,
  height: number,
  scale: number,
  rng: Rng,
  camera: Rng,
): void {
  const pitch = Math.max(2, (4.5 + 3 * camera()) * scale);
  const [warp, weft] = palettes[Math.floor(camera() * palettes.length)]!;
  const amp = 0.16 + 0.06 * camera();
  const theta = (rng() - 0.5) * 0.06;
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  // offsets keep u and v positive over the frame, so thread numbers index the jitter tables
  const pu = rng() * 2 * pitch + Math.abs(s) * height + pitch;
  const pv = rng() * 2 * pitch + Math.abs(s) * width + pitch;
  const nu = Math.ceil((width * Math.abs(c) + height * Math.abs(s) + 2 * pu) / pitch) + 2;
  const nv = Math.ceil((width * Math.abs(s) + height * Math.abs(c) + 2 * pv) / pitch) + 2;
  const warpShade = new Float32Array(nu);
  const weftShade = new Float32Array(nv);
  for (let i = 0; i < nu; i++) warpShade[i] = (rng() - 0.5) * 0.05;
  for (let j = 0; j < nv; j++) weftShade[j] = (rng() - 0.5) * 0.05;
  const inv = 1 / pitch;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const u = (x * c + y * s + pu) * inv;
      const v = (y * c - x * s + pv) * inv;
      const i = Math.floor(u);
      const j = Math.floor(v);
      const fu = u - i;
      const fv = v - j;
      // warp thread i runs along v and rises and falls with period two cells, opposite to its
      // neighbours (cos(π(v - ½ + i)) = ±sin(π·fv), + where i + j is even); weft thread j
      // likewise along u, on top where warp is under. Each is round in section (4f(1-f)), so
      // the gaps are dark. Heights are continuous, so the weave does not alias into steps.
      const sign = ((i + j) & 1) === 0 ? 0.5 : -0.5;
      const qu = fu * (1 - fu);
      const qv = fv * (1 - fv);
      // Bhaskara's sin(πf) ≈ 16q / (5 - 4q), q = f(1-f): within 0.0016, without a Math.sin
      const hw = 4 * qu * (0.5 + (sign * 16 * qv) / (5 - 4 * qv));
      const hf = 4 * qv * (0.5 - (sign * 16 * qu) / (5 - 4 * qu));
      const w = Math.min(1, Math.max(0, 0.5 + 4 * (hw - hf)));
      const k = row + x;
      lum[k]! += amp * (Math.max(hw, hf) - 0.5) + warpShade[i]! * w + weftShade[j]! * (1 - w);
      albedo[k * 3] = weft[0] + (warp[0] - weft[0]) * w;
      albedo[k * 3 + 1] = weft[1] + (warp[1] - weft[1]) * w;
      albedo[k * 3 + 2] = weft[2] + (warp[2] - weft[2]) * w;
    }
  }
  // uneven dyeing and fulling, far broader than a thread
  valueNoise(lum, width, height, rng, 40 * scale, 0.02);
}
