import type { Rng } from "./mulberry32.js";
import { clamp01, paint, type Rgb } from "./raster.js";
import { valueNoise } from "./render-surface.js";
import type { PcbLayout, PcbPad, PcbTrace } from "./surface-layout.js";

const COPPER: Rgb = [0.74, 0.46, 0.22];
const SILK: Rgb = [0.9, 0.9, 0.86];
const DRILL: Rgb = [0.05, 0.05, 0.05];
const SOLDER: Rgb = [0.84, 0.84, 0.82];
// hot-air-levelled solder or immersion gold
const finishes: readonly Rgb[] = [
  [0.8, 0.8, 0.78],
  [0.88, 0.72, 0.36],
];

/** A board design in 320x240 units: what the camera's boards share. */
interface Design {
  pads: PcbPad[];
  traces: PcbTrace[];
  silk: Array<[x0: number, y0: number, x1: number, y1: number]>;
  substrate: Rgb;
  finish: Rgb;
}

/**
 * A populated-board look without components: green solder mask over glass weave, copper traces
 * 2.4–3.6 px wide, surface-mount pads in rows and pairs, vias with drill holes, silkscreen
 * outlines. Every board a camera sees has the same design (a production line), placed a few
 * pixels differently in each frame.
 */
export function renderPcb(
  lum: Float32Array,
  albedo: Float32Array,
  width: number,
  height: number,
  scale: number,
  rng: Rng,
  camera: Rng,
): PcbLayout {
  const d = design(width / scale, height / scale, camera);
  const dx = (rng() - 0.5) * 6 * scale;
  const dy = (rng() - 0.5) * 6 * scale;
  const at = (v: number, o: number) => v * scale + o;
  const pads = d.pads.map((p) => ({
    ...p,
    x: at(p.x, dx),
    y: at(p.y, dy),
    hw: p.hw * scale,
    hh: p.hh * scale,
    hole: p.hole * scale,
  }));
  const traces = d.traces.map((t) => ({
    hw: Math.max(0.6, t.hw * scale),
    points: t.points.map((v, k) => at(v, k % 2 === 0 ? dx : dy)),
  }));

  for (let k = 0; k < width * height; k++) {
    albedo[k * 3] = d.substrate[0];
    albedo[k * 3 + 1] = d.substrate[1];
    albedo[k * 3 + 2] = d.substrate[2];
  }
  // glass weave under the mask, then unevenly thick mask
  const weave = (2 * Math.PI) / Math.max(2, 5 * scale);
  const sx = new Float32Array(width);
  for (let x = 0; x < width; x++) sx[x] = 0.012 * Math.sin(x * weave);
  for (let y = 0; y < height; y++) {
    const sy = Math.sin(y * weave);
    const row = y * width;
    for (let x = 0; x < width; x++) lum[row + x]! += sx[x]! * sy;
  }
  valueNoise(lum, width, height, rng, 30 * scale, 0.015);

  // silk first, so that removing copper over it uncovers mask, as a missing trace would
  const silkHw = Math.max(0.5, 0.6 * scale);
  for (const [x0, y0, x1, y1] of d.silk) {
    const corners = [at(x0, dx), at(y0, dy), at(x1, dx), at(y0, dy), at(x1, dx), at(y1, dy), at(x0, dx), at(y1, dy)];
    strokePolyline(albedo, width, height, [...corners, corners[0]!, corners[1]!], silkHw, SILK);
  }
  for (const t of traces) strokePolyline(albedo, width, height, t.points, t.hw, COPPER);
  for (const p of pads) {
    fillPad(albedo, width, height, p, d.finish);
    if (p.hole > 0) fillPad(albedo, width, height, { ...p, round: true, hw: p.hole, hh: p.hole }, DRILL);
  }
  return { kind: "pcb", pads, traces, substrate: d.substrate, solder: SOLDER };
}

/** Coverage of pixel (x, y) by a pad, anti-aliased over one pixel. */
export function padCoverage(p: PcbPad, x: number, y: number): number {
  if (p.round) return clamp01(p.hw + 0.5 - Math.hypot(x - p.x, y - p.y));
  return clamp01(p.hw + 0.5 - Math.abs(x - p.x)) * clamp01(p.hh + 0.5 - Math.abs(y - p.y));
}

export function fillPad(albedo: Float32Array, width: number, height: number, p: PcbPad, colour: Rgb): void {
  const x0 = Math.max(0, Math.floor(p.x - p.hw - 1));
  const x1 = Math.min(width - 1, Math.ceil(p.x + p.hw + 1));
  const y0 = Math.max(0, Math.floor(p.y - p.hh - 1));
  const y1 = Math.min(height - 1, Math.ceil(p.y + p.hh + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const c = padCoverage(p, x, y);
      if (c > 0) paint(albedo, y * width + x, colour, c);
    }
  }
}

/** Paints a polyline of half width `hw` with round joints and ends, anti-aliased. */
function strokePolyline(albedo: Float32Array, width: number, height: number, pts: number[], hw: number, col: Rgb) {
  for (let s = 0; s + 3 < pts.length; s += 2) {
    const ax = pts[s]!;
    const ay = pts[s + 1]!;
    const ddx = pts[s + 2]! - ax;
    const ddy = pts[s + 3]! - ay;
    const len2 = ddx * ddx + ddy * ddy;
    const x0 = Math.max(0, Math.floor(Math.min(ax, ax + ddx) - hw - 1));
    const x1 = Math.min(width - 1, Math.ceil(Math.max(ax, ax + ddx) + hw + 1));
    const y0 = Math.max(0, Math.floor(Math.min(ay, ay + ddy) - hw - 1));
    const y1 = Math.min(height - 1, Math.ceil(Math.max(ay, ay + ddy) + hw + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x - ax;
        const py = y - ay;
        let t = len2 > 0 ? (px * ddx + py * ddy) / len2 : 0;
        t = t < 0 ? 0 : Math.min(t, 1);
        const c = hw + 0.5 - Math.hypot(px - t * ddx, py - t * ddy);
        if (c > 0) paint(albedo, y * width + x, col, Math.min(c, 1));
      }
    }
  }
}

/**
 * Lays out footprints on a 3x2 grid of cells (in 320x240 units, whatever the frame's aspect):
 * rows of pads (an IC's sides), pairs (a passive), via chains. Each pad's trace leaves away
 * from its footprint, jogs 45° and ends in a via to another layer; a row's traces run as a
 * bus, jogging together, so they do not cross.
 */
function design(w: number, h: number, rng: Rng): Design {
  const pads: PcbPad[] = [];
  const traces: PcbTrace[] = [];
  const silk: Design["silk"] = [];
  const substrate: Rgb = [0.08 + 0.04 * rng(), 0.33 + 0.09 * rng(), 0.15 + 0.07 * rng()];
  const finish = finishes[Math.floor(rng() * finishes.length)]!;
  const cellsX = Math.max(1, Math.round(w / 107));
  const cellsY = Math.max(1, Math.round(h / 120));
  const cw = w / cellsX;
  const ch = h / cellsY;
  let group = 0;
  const route = (x: number, y: number, ux: number, uy: number, l1: number, jog: number, l2: number, l3: number) => {
    // straight out, 45° jog sideways (perpendicular: (-uy, ux) times jog's sign), straight on
    const sx = -uy * Math.sign(jog);
    const sy = ux * Math.sign(jog);
    const p1x = x + ux * l1;
    const p1y = y + uy * l1;
    const p2x = p1x + (ux + sx) * l2;
    const p2y = p1y + (uy + sy) * l2;
    return [x, y, p1x, p1y, p2x, p2y, p2x + ux * l3, p2y + uy * l3];
  };
  for (let cy = 0; cy < cellsY; cy++) {
    for (let cx = 0; cx < cellsX; cx++) {
      const kind = rng();
      const mx = (cx + 0.5) * cw + (rng() - 0.5) * 0.2 * cw;
      const my = (cy + 0.5) * ch + (rng() - 0.5) * 0.2 * ch;
      const horizontal = rng() < 0.5;
      const hwTrace = 1.2 + 0.6 * rng();
      const jog = rng() < 0.5 ? -1 : 1;
      if (kind < 0.55) {
        // an IC: two facing rows of n pads across a body
        const n = 3 + Math.floor(rng() * 4);
        const pitch = 9 + 3 * rng();
        const body = 12 + 8 * rng();
        const phw = 2.4 + 0.8 * rng();
        const phh = 4.5 + 2 * rng();
        const l1 = 5 + 8 * rng();
        const l2 = 3 + 6 * rng();
        const l3 = 6 + 14 * rng();
        for (const side of [-1, 1]) {
          group++;
          for (let k = 0; k < n; k++) {
            const along = (k - (n - 1) / 2) * pitch;
            const across = side * (body / 2 + phh);
            const [x, y] = horizontal ? [mx + along, my + across] : [mx + across, my + along];
            pads.push({ x, y, hw: horizontal ? phw : phh, hh: horizontal ? phh : phw, round: false, hole: 0, group });
            if (rng() < 0.8) {
              const [ux, uy] = horizontal ? [0, side] : [side, 0];
              // every other trace runs a via further, so neighbouring vias do not touch
              const points = route(x, y, ux, uy, l1, jog, l2, l3 + (k % 2) * 9);
              traces.push({ hw: hwTrace, points });
              const r = 2.6 + 0.4 * rng();
              pads.push({ x: points[6]!, y: points[7]!, hw: r, hh: r, round: true, hole: 1.1, group: -1 });
            }
          }
        }
        const ex = (horizontal ? ((n - 1) / 2) * pitch + phw : body / 2 + 2 * phh) + 3;
        const ey = (horizontal ? body / 2 + 2 * phh : ((n - 1) / 2) * pitch + phw) + 3;
        silk.push([mx - ex, my - ey, mx + ex, my + ey]);
      } else if (kind < 0.85) {
        // a passive: two pads, a trace from each
        group++;
        const gap = 12 + 5 * rng();
        const phw = 3.5 + rng();
        const phh = 4 + rng();
        for (const side of [-1, 1]) {
          const [x, y] = horizontal ? [mx + (side * gap) / 2, my] : [mx, my + (side * gap) / 2];
          pads.push({ x, y, hw: phw, hh: phh, round: false, hole: 0, group });
          const [ux, uy] = horizontal ? [side, 0] : [0, side];
          const points = route(x, y, ux, uy, 6 + 8 * rng(), jog, 3 + 8 * rng(), 10 + 25 * rng());
          traces.push({ hw: hwTrace, points });
          const r = 2.8 + 0.5 * rng();
          pads.push({ x: points[6]!, y: points[7]!, hw: r, hh: r, round: true, hole: 1.2, group: -1 });
        }
        const ex = (horizontal ? gap / 2 + phw : phw) + 3;
        const ey = (horizontal ? phh : gap / 2 + phh) + 3;
        silk.push([mx - ex, my - ey, mx + ex, my + ey]);
      } else {
        // stitching vias joined by a trace
        group++;
        const n = 2 + Math.floor(rng() * 3);
        const spacing = 14 + 8 * rng();
        const pts: number[] = [];
        for (let k = 0; k < n; k++) {
          const along = (k - (n - 1) / 2) * spacing;
          const [x, y] = horizontal ? [mx + along, my] : [mx, my + along];
          const r = 3 + rng();
          pads.push({ x, y, hw: r, hh: r, round: true, hole: 1.2 + 0.4 * rng(), group });
          pts.push(x, y);
        }
        traces.push({ hw: hwTrace, points: pts });
      }
    }
  }
  return { pads, traces, silk, substrate, finish };
}
