import type { Rng } from "./mulberry32.js";

// One uniform's standard deviation; the mean of k uniforms has SD_U / sqrt(k).
const SD_U = Math.sqrt(1 / 12);

/**
 * Adds a plain surface's zero-mean texture to `lum` (luminance, 0..1, row-major). `scale` is
 * the frame's size relative to 320x240, so textures keep their look at other resolutions.
 * Amplitudes stay within about ±0.035 so that an honest defect (≥ 0.25 contrast) stands out
 * the way it does on a real part under diffuse light.
 */
export function renderSurface(
  lum: Float32Array,
  width: number,
  height: number,
  kind: "brushed-metal" | "cast",
  rng: Rng,
  scale: number,
): void {
  if (kind === "brushed-metal") brushed(lum, width, height, rng, scale);
  else cast(lum, width, height, rng, scale);
}

/**
 * Brushing leaves thin streaks along one direction: every row gets its own slowly varying
 * profile (a running mean of uniform noise) plus a per-row offset. Rows are independent, which
 * is what makes streaks read as 1-px lines rather than blotches.
 */
function brushed(lum: Float32Array, width: number, height: number, rng: Rng, scale: number): void {
  const longWin = Math.max(8, Math.round(48 * scale));
  const shortWin = Math.max(2, Math.round(8 * scale));
  const longGain = (0.009 * Math.sqrt(longWin)) / SD_U;
  const shortGain = (0.006 * Math.sqrt(shortWin)) / SD_U;
  const longBuf = new Float32Array(width + longWin);
  const shortBuf = new Float32Array(width + shortWin);
  for (let y = 0; y < height; y++) {
    const rowOff = (rng() - 0.5) * 0.02;
    fillPrefixSums(longBuf, rng);
    fillPrefixSums(shortBuf, rng);
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const l = (longBuf[x + longWin]! - longBuf[x]!) / longWin - 0.5;
      const s = (shortBuf[x + shortWin]! - shortBuf[x]!) / shortWin - 0.5;
      lum[row + x]! += rowOff + l * longGain + s * shortGain;
    }
  }
}

/** buf[i] = sum of i uniforms (buf[0] = 0), so a window mean is one subtraction. */
function fillPrefixSums(buf: Float32Array, rng: Rng): void {
  let acc = 0;
  buf[0] = 0;
  for (let i = 1; i < buf.length; i++) {
    acc += rng();
    buf[i] = acc;
  }
}

/**
 * Sand-cast or shot-blasted grey: isotropic mottling at two scales and a few pores. Pores are
 * far below the smallest defect (radius ≤ 1.4 px against ≥ 5 px for a spot) and stay in OK
 * frames on purpose: a detector has to ignore them, as it would on a real casting.
 */
function cast(lum: Float32Array, width: number, height: number, rng: Rng, scale: number): void {
  valueNoise(lum, width, height, rng, 28 * scale, 0.028);
  valueNoise(lum, width, height, rng, 7 * scale, 0.016);
  const pores = Math.floor(rng() * 6);
  for (let i = 0; i < pores; i++) {
    const r = (0.8 + 0.6 * rng()) * scale;
    const depth = 0.1 + 0.08 * rng();
    const cx = r + 1 + rng() * (width - 2 * r - 2);
    const cy = r + 1 + rng() * (height - 2 * r - 2);
    disc(lum, width, height, cx, cy, r, -depth);
  }
}

/** Smooth value noise: uniform values on a grid of `cell` px, smoothstep-interpolated. */
export function valueNoise(
  lum: Float32Array,
  width: number,
  height: number,
  rng: Rng,
  cell: number,
  amplitude: number,
): void {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = (rng() * 2 - 1) * amplitude;
  // a random phase, so grid lines do not sit at the same pixels in every frame
  const ox = rng() * cell;
  const oy = rng() * cell;
  const xi = new Int32Array(width);
  const xf = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = (x + ox) / cell;
    const i = Math.floor(gx);
    xi[x] = i;
    xf[x] = smooth(gx - i);
  }
  for (let y = 0; y < height; y++) {
    const gy = (y + oy) / cell;
    const j = Math.floor(gy);
    const fy = smooth(gy - j);
    const r0 = j * gw;
    const r1 = r0 + gw;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = xi[x]!;
      const fx = xf[x]!;
      const top = grid[r0 + i]! + (grid[r0 + i + 1]! - grid[r0 + i]!) * fx;
      const bottom = grid[r1 + i]! + (grid[r1 + i + 1]! - grid[r1 + i]!) * fx;
      lum[row + x]! += top + (bottom - top) * fy;
    }
  }
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Adds `delta` inside a disc with a one-pixel anti-aliased rim. */
export function disc(
  lum: Float32Array,
  width: number,
  height: number,
  cx: number,
  cy: number,
  r: number,
  delta: number,
): void {
  const x0 = Math.max(0, Math.floor(cx - r - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + r + 1));
  const y0 = Math.max(0, Math.floor(cy - r - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + r + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const d = Math.hypot(x - cx, y - cy);
      const p = Math.min(1, Math.max(0, r + 0.5 - d));
      if (p > 0) lum[y * width + x]! += delta * p;
    }
  }
}
