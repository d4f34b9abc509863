import type { DefectRegion } from "./defect-region.js";
import type { SynthDefect } from "./defect-type.js";
import { between, type Rng } from "./mulberry32.js";
import type { Raster } from "./raster.js";

/**
 * A crack: a thin dark polyline, 40–130 px long, that wanders around one direction, tapers from
 * 1.4–2.4 px wide to 1 px and forks into up to three shorter branches. Darkens by 0.3–0.45 at
 * its core, like the spot and the scratch, so it is as visible as they are.
 */
export function drawCrack(r: Raster, rng: Rng, region: DefectRegion): SynthDefect {
  const { width, height, scale } = r;
  const margin = 2 + 2 * scale;
  const theta0 = rng() * Math.PI * 2;
  const cos = Math.abs(Math.cos(theta0));
  const sin = Math.abs(Math.sin(theta0));
  const fit = Math.min(
    cos > 1e-6 ? (width - 2 * margin) / cos : Number.POSITIVE_INFINITY,
    sin > 1e-6 ? (height - 2 * margin) / sin : Number.POSITIVE_INFINITY,
  );
  const length = Math.min((40 + 90 * rng()) * scale, 0.9 * fit);
  const step = Math.max(1.5, (3 + 2 * rng()) * scale);
  const hw0 = Math.max(0.5, (0.7 + 0.5 * rng()) * scale);
  const depth = 0.3 + 0.15 * rng();
  // start where a straight walk of `length` along theta0 stays inside; wandering may cut it short
  const ex = Math.cos(theta0) * length;
  const ey = Math.sin(theta0) * length;
  const sx = between(rng, margin + Math.max(0, -ex), width - margin - Math.max(0, ex));
  const sy = between(rng, margin + Math.max(0, -ey), height - margin - Math.max(0, ey));

  // segments as [ax, ay, bx, by, half width at a, half width at b]
  const segs: number[] = [];
  const inside = (x: number, y: number) => x >= margin && x <= width - margin && y >= margin && y <= height - margin;
  const walk = (x: number, y: number, theta: number, len: number, hwA: number, hwB: number, branches: number) => {
    const steps = Math.max(1, Math.round(len / step));
    let dir = theta;
    for (let k = 0; k < steps; k++) {
      // wander, pulled back towards the main direction: cracks kink but keep their course
      dir = theta + 0.6 * (dir - theta) + (rng() + rng() - 1) * 0.7;
      const nx = x + Math.cos(dir) * step;
      const ny = y + Math.sin(dir) * step;
      if (!inside(nx, ny)) break;
      const ha = hwA + ((hwB - hwA) * k) / steps;
      const hb = hwA + ((hwB - hwA) * (k + 1)) / steps;
      segs.push(x, y, nx, ny, ha, hb);
      if (branches > 0 && k > 1 && k < steps - 2 && rng() < 0.12) {
        branches--;
        const side = rng() < 0.5 ? -1 : 1;
        walk(
          x,
          y,
          dir + side * (0.4 + 0.6 * rng()),
          (0.2 + 0.3 * rng()) * (steps - k) * step,
          Math.max(0.5, 0.8 * ha),
          0.5,
          0,
        );
      }
      x = nx;
      y = ny;
    }
  };
  walk(sx, sy, theta0, length, hw0, 0.5, 3);

  let bx0 = width;
  let by0 = height;
  let bx1 = 0;
  let by1 = 0;
  for (let s = 0; s < segs.length; s += 6) {
    const reach = Math.max(segs[s + 4]!, segs[s + 5]!) + 1;
    bx0 = Math.min(bx0, Math.floor(Math.min(segs[s]!, segs[s + 2]!) - reach));
    bx1 = Math.max(bx1, Math.ceil(Math.max(segs[s]!, segs[s + 2]!) + reach));
    by0 = Math.min(by0, Math.floor(Math.min(segs[s + 1]!, segs[s + 3]!) - reach));
    by1 = Math.max(by1, Math.ceil(Math.max(segs[s + 1]!, segs[s + 3]!) + reach));
  }
  if (segs.length === 0) return region.finish("crack", sx, sy);
  bx0 = Math.max(0, bx0);
  by0 = Math.max(0, by0);
  bx1 = Math.min(width - 1, bx1);
  by1 = Math.min(height - 1, by1);
  const bw = bx1 - bx0 + 1;
  // coverage is the maximum over segments, so joints and forks are not darker than the line
  const cov = new Float32Array(bw * (by1 - by0 + 1));
  for (let s = 0; s < segs.length; s += 6) {
    const ax = segs[s]!;
    const ay = segs[s + 1]!;
    const dx = segs[s + 2]! - ax;
    const dy = segs[s + 3]! - ay;
    const ha = segs[s + 4]!;
    const dh = segs[s + 5]! - ha;
    const len2 = dx * dx + dy * dy;
    const reach = Math.max(ha, ha + dh) + 1;
    const x0 = Math.max(bx0, Math.floor(Math.min(ax, ax + dx) - reach));
    const x1 = Math.min(bx1, Math.ceil(Math.max(ax, ax + dx) + reach));
    const y0 = Math.max(by0, Math.floor(Math.min(ay, ay + dy) - reach));
    const y1 = Math.min(by1, Math.ceil(Math.max(ay, ay + dy) + reach));
    for (let y = y0; y <= y1; y++) {
      const py = y - ay;
      const row = (y - by0) * bw - bx0;
      for (let x = x0; x <= x1; x++) {
        const px = x - ax;
        let t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
        t = t < 0 ? 0 : Math.min(t, 1);
        const qx = px - t * dx;
        const qy = py - t * dy;
        const c = ha + dh * t + 0.5 - Math.sqrt(qx * qx + qy * qy);
        if (c > cov[row + x]!) cov[row + x] = Math.min(c, 1);
      }
    }
  }
  const { lum } = r;
  for (let y = by0; y <= by1; y++) {
    const row = (y - by0) * bw - bx0;
    for (let x = bx0; x <= bx1; x++) {
      const c = cov[row + x]!;
      if (c <= 0) continue;
      lum[y * width + x]! -= depth * c;
      if (c >= 0.5) region.add(x, y);
    }
  }
  return region.finish("crack", sx, sy);
}
