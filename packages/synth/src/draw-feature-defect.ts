import type { DefectRegion } from "./defect-region.js";
import type { SynthDefect } from "./defect-type.js";
import { between, type Rng } from "./mulberry32.js";
import { clamp01, paint, type Raster, type Rgb } from "./raster.js";
import { padCoverage } from "./render-pcb.js";
import type { PcbLayout, PcbPad, TileLayout } from "./surface-layout.js";

/**
 * A feature the design has is not there: on a board, a lifted pad or a 6–14 px gap in a trace
 * (bare solder mask where copper should be); on tiles, a chipped corner showing the clay body.
 * Null when no feature lies far enough inside the frame (only on tiny frames); the caller then
 * draws a spot with the same stream.
 */
export function drawMissingFeature(r: Raster, rng: Rng, region: DefectRegion): SynthDefect | null {
  if (!r.layout || !r.albedo) return null;
  return r.layout.kind === "pcb"
    ? missingCopper(r, r.layout, r.albedo, rng, region)
    : chippedCorner(r, r.layout, r.albedo, rng, region);
}

/**
 * Something is there that should not be: on a board, a solder blob, often bridging two pads;
 * on tiles, a lump of grout left on a tile's face.
 */
export function drawExtraFeature(r: Raster, rng: Rng, region: DefectRegion): SynthDefect | null {
  if (!r.layout || !r.albedo) return null;
  return r.layout.kind === "pcb"
    ? solderBlob(r, r.layout, r.albedo, rng, region)
    : groutLump(r, r.layout, r.albedo, rng, region);
}

function padInside(p: PcbPad, width: number, height: number): boolean {
  return p.x - p.hw >= 2 && p.y - p.hh >= 2 && p.x + p.hw <= width - 3 && p.y + p.hh <= height - 3;
}

function missingCopper(r: Raster, layout: PcbLayout, albedo: Float32Array, rng: Rng, region: DefectRegion) {
  const { width, height, scale } = r;
  const pads = layout.pads.filter((p) => p.hole === 0 && padInside(p, width, height));
  const length = Math.max(3, (6 + 8 * rng()) * scale);
  // trace segments with room for the gap away from their ends, where pads and joints are
  const keepOut = 8 * scale;
  const segments: Array<[ax: number, ay: number, bx: number, by: number, hw: number]> = [];
  for (const t of layout.traces) {
    for (let k = 0; k + 3 < t.points.length; k += 2) {
      const [ax, ay, bx, by] = [t.points[k]!, t.points[k + 1]!, t.points[k + 2]!, t.points[k + 3]!];
      const m = t.hw + 2;
      const inside = (x: number, y: number) => x >= m && y >= m && x <= width - 1 - m && y <= height - 1 - m;
      if (Math.hypot(bx - ax, by - ay) >= length + 2 * keepOut && inside(ax, ay) && inside(bx, by)) {
        segments.push([ax, ay, bx, by, t.hw]);
      }
    }
  }
  const usePad = pads.length > 0 && (segments.length === 0 || rng() < 0.5);
  if (usePad) {
    const p = pads[Math.floor(rng() * pads.length)]!;
    const x0 = Math.max(0, Math.floor(p.x - p.hw - 1));
    const x1 = Math.min(width - 1, Math.ceil(p.x + p.hw + 1));
    const y0 = Math.max(0, Math.floor(p.y - p.hh - 1));
    const y1 = Math.min(height - 1, Math.ceil(p.y + p.hh + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const c = padCoverage(p, x, y);
        if (c <= 0) continue;
        // the whole pixel: its pad fraction went, and with it whatever copper ran beneath
        paint(albedo, y * width + x, layout.substrate, 1);
        if (c >= 0.5) region.add(x, y);
      }
    }
    return region.finish("missing-feature", p.x, p.y);
  }
  if (segments.length === 0) return null;
  const [ax, ay, bx, by, hw] = segments[Math.floor(rng() * segments.length)]!;
  const len = Math.hypot(bx - ax, by - ay);
  const ux = (bx - ax) / len;
  const uy = (by - ay) / len;
  const s0 = keepOut + rng() * (len - length - 2 * keepOut);
  const s1 = s0 + length;
  const reach = hw + 1.5;
  const ends = [ax + ux * s0, ay + uy * s0, ax + ux * s1, ay + uy * s1];
  const x0 = Math.max(0, Math.floor(Math.min(ends[0]!, ends[2]!) - reach));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(ends[0]!, ends[2]!) + reach));
  const y0 = Math.max(0, Math.floor(Math.min(ends[1]!, ends[3]!) - reach));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(ends[1]!, ends[3]!) + reach));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const u = (x - ax) * ux + (y - ay) * uy;
      const v = (y - ay) * ux - (x - ax) * uy;
      const cut = clamp01(0.5 + Math.min(u - s0, s1 - u));
      const trace = clamp01(hw + 0.5 - Math.abs(v));
      if (cut <= 0 || trace <= 0) continue;
      // square, etched ends; across the trace, its anti-aliased edge goes too
      paint(albedo, y * width + x, layout.substrate, cut);
      if (cut >= 0.5 && trace >= 0.5) region.add(x, y);
    }
  }
  return region.finish("missing-feature", (ends[0]! + ends[2]!) / 2, (ends[1]! + ends[3]!) / 2);
}

/** A ragged outline: radius multiplier around 1 (±16%) at angle phi. */
function ragged(rng: Rng): (phi: number) => number {
  const a = rng() * Math.PI * 2;
  const b = rng() * Math.PI * 2;
  const ka = 0.06 + 0.06 * rng();
  const kb = 0.02 + 0.04 * rng();
  return (phi) => 1 + ka * Math.sin(3 * phi + a) + kb * Math.sin(5 * phi + b);
}

/**
 * Solder where none belongs: a 5–9 px blob, half the time bridging two neighbouring pads of a
 * row (the classic short). Shaded as a dome: a highlight towards the light, darker at its foot.
 */
function solderBlob(r: Raster, layout: PcbLayout, albedo: Float32Array, rng: Rng, region: DefectRegion) {
  const { width, height, scale, lum } = r;
  const pairs: Array<[PcbPad, PcbPad]> = [];
  const previous = new Map<number, PcbPad>();
  for (const q of layout.pads) {
    if (q.group <= 0 || q.round) continue;
    const p = previous.get(q.group);
    if (p && padInside(p, width, height) && padInside(q, width, height)) pairs.push([p, q]);
    previous.set(q.group, q);
  }
  let cx: number;
  let cy: number;
  let rx: number;
  let ry: number;
  let angle: number;
  const pads = layout.pads.filter((p) => padInside(p, width, height));
  if (pairs.length > 0 && rng() < 0.5) {
    const [p, q] = pairs[Math.floor(rng() * pairs.length)]!;
    cx = (p.x + q.x) / 2;
    cy = (p.y + q.y) / 2;
    angle = Math.atan2(q.y - p.y, q.x - p.x);
    const half = Math.hypot(q.x - p.x, q.y - p.y) / 2;
    // reaches a third of the way onto each pad
    rx = half - 0.6 * Math.min(p.hw, p.hh);
    ry = Math.min(Math.max(p.hw, p.hh) * 0.7, (2.5 + 1.5 * rng()) * scale);
  } else {
    const rad = (2.5 + 2 * rng()) * scale;
    rx = rad * (0.85 + 0.3 * rng());
    ry = rad * (0.85 + 0.3 * rng());
    angle = rng() * Math.PI;
    if (pads.length > 0) {
      const p = pads[Math.floor(rng() * pads.length)]!;
      const side = rng() < 0.5 ? -1 : 1;
      const horizontal = rng() < 0.5;
      // mostly beside the pad, where it shows against the mask even on a tinned board
      cx = p.x + (horizontal ? side * (p.hw + 0.5 * rx) : (rng() - 0.5) * p.hw);
      cy = p.y + (horizontal ? (rng() - 0.5) * p.hh : side * (p.hh + 0.5 * ry));
    } else {
      cx = between(rng, rx + ry + 3, width - rx - ry - 3);
      cy = between(rng, rx + ry + 3, height - rx - ry - 3);
    }
  }
  rx = Math.max(1, rx);
  ry = Math.max(1, ry);
  const outline = ragged(rng);
  const ca = Math.cos(angle);
  const sa = Math.sin(angle);
  // the light's direction in the blob's own axes
  const lx = Math.cos(r.lightAngle - angle);
  const ly = Math.sin(r.lightAngle - angle);
  const rmin = Math.min(rx, ry);
  const reach = Math.max(rx, ry) * 1.2 + 1;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(cy + reach));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const qx = (dx * ca + dy * sa) / rx;
      const qy = (dy * ca - dx * sa) / ry;
      const dn = Math.sqrt(qx * qx + qy * qy);
      const rho = outline(Math.atan2(qy, qx));
      const c = clamp01((rho - dn) * rmin + 0.5);
      if (c <= 0) continue;
      const i = y * width + x;
      const t = Math.min(1, dn / rho);
      const height01 = Math.sqrt(1 - t * t);
      const hx = qx - 0.4 * lx;
      const hy = qy - 0.4 * ly;
      const spec = Math.exp(-(hx * hx + hy * hy) / 0.12);
      paint(albedo, i, layout.solder, c);
      lum[i]! += c * (0.22 * spec - 0.12 * (1 - height01));
      if (c >= 0.5) region.add(x, y);
    }
  }
  return region.finish("extra-feature", cx, cy);
}

/** The corner of one tile broken off: a ragged quarter-disc of radius 6–14 px showing bisque. */
function chippedCorner(r: Raster, layout: TileLayout, albedo: Float32Array, rng: Rng, region: DefectRegion) {
  const { width, height, scale, lum } = r;
  const { pitch, grout, ox, oy } = layout;
  const rad = Math.max(1.5, Math.min((6 + 8 * rng()) * scale, 0.4 * (pitch - grout)));
  const reach = 1.25 * rad + 1;
  const corners: Array<[x: number, y: number, sx: number, sy: number]> = [];
  for (let gx = ox - pitch; gx < width + pitch; gx += pitch) {
    for (let gy = oy - pitch; gy < height + pitch; gy += pitch) {
      for (const sx of [-1, 1]) {
        for (const sy of [-1, 1]) {
          const x = gx + (sx * grout) / 2;
          const y = gy + (sy * grout) / 2;
          const fits = (v: number, s: number, size: number) =>
            Math.min(v, v + s * reach) >= 1 && Math.max(v, v + s * reach) <= size - 2;
          if (fits(x, sx, width) && fits(y, sy, height)) corners.push([x, y, sx, sy]);
        }
      }
    }
  }
  if (corners.length === 0) return null;
  const [kx, ky, sx, sy] = corners[Math.floor(rng() * corners.length)]!;
  const outline = ragged(rng);
  const x0 = Math.max(0, Math.floor(Math.min(kx, kx + sx * reach)));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(kx, kx + sx * reach)));
  const y0 = Math.max(0, Math.floor(Math.min(ky, ky + sy * reach)));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(ky, ky + sy * reach)));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - kx;
      const dy = y - ky;
      const inset = (outline(Math.atan2(dy, dx)) - Math.hypot(dx, dy) / rad) * rad;
      // the chip stays on its own tile: clipped to the quadrant beyond the tile's corner
      const c = clamp01(inset + 0.5) * clamp01(sx * dx + 0.5) * clamp01(sy * dy + 0.5);
      if (c <= 0) continue;
      const i = y * width + x;
      paint(albedo, i, layout.bisque, c);
      // rough, recessed fracture, shadowed along the glaze's broken edge
      lum[i]! += c * ((rng() - 0.5) * 0.08 - 0.05 - 0.1 * clamp01(1 - inset / 1.5));
      if (c >= 0.5) region.add(x, y);
    }
  }
  return region.finish("missing-feature", kx + sx * 0.5 * rad, ky + sy * 0.5 * rad);
}

/** A lump of grout, radius 5–10 px, on a tile's face: matte, lumpy, in the grout's colour. */
function groutLump(r: Raster, layout: TileLayout, albedo: Float32Array, rng: Rng, region: DefectRegion) {
  const { width, height, scale, lum } = r;
  const rad = (5 + 5 * rng()) * scale;
  const rx = rad * (0.75 + 0.5 * rng());
  const ry = rad * (0.75 + 0.5 * rng());
  const reach = Math.max(rx, ry) * 1.2 + 1;
  const cx = between(rng, reach + 1, width - reach - 1);
  const cy = between(rng, reach + 1, height - reach - 1);
  const outline = ragged(rng);
  const rmin = Math.min(rx, ry);
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(cy + reach));
  const col: Rgb = layout.groutColour;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const qx = (x - cx) / rx;
      const qy = (y - cy) / ry;
      const c = clamp01((outline(Math.atan2(qy, qx)) - Math.sqrt(qx * qx + qy * qy)) * rmin + 0.5);
      if (c <= 0) continue;
      const i = y * width + x;
      paint(albedo, i, col, c);
      // raised and rough: lit towards the light like the tiles' edges, and grainy
      lum[i]! += c * ((rng() - 0.5) * 0.12 - 0.04);
      if (c >= 0.5) region.add(x, y);
    }
  }
  return region.finish("extra-feature", cx, cy);
}
