import type { Rng } from "./mulberry32.js";

export type DefectType = "spot" | "scratch" | "stain";

export const defectTypes: readonly DefectType[] = ["spot", "scratch", "stain"];

/** A rendered defect; `box` is [x, y, width, height] in frame pixels, inside the frame. */
export interface SynthDefect {
  type: DefectType;
  box: [x: number, y: number, w: number, h: number];
}

/**
 * Draws one defect of a random type into `lum` and returns where it is. Sizes are given for
 * 320x240 and multiplied by `scale`. The ranges are the generator's contract with detectors
 * (the blemish model in @kensa/vision is tuned against them): a spot has radius ≥ 5 px and depth ≥ 0.28, a
 * scratch is 30–120 px long, ≥ 2 px wide with contrast ≥ 0.25, a stain is a soft blob of
 * radius 8–20 px — all clearly visible to a person looking at the frame.
 */
export function drawDefect(lum: Float32Array, width: number, height: number, rng: Rng, scale: number): SynthDefect {
  const type = defectTypes[Math.floor(rng() * defectTypes.length)] ?? "spot";
  if (type === "spot") return spot(lum, width, height, rng, scale);
  if (type === "scratch") return scratch(lum, width, height, rng, scale);
  return stain(lum, width, height, rng, scale);
}

/** A dark pit or inclusion: a slightly elliptic disc with a soft rim. */
function spot(lum: Float32Array, width: number, height: number, rng: Rng, scale: number): SynthDefect {
  const r = (5.5 + 4.5 * rng()) * scale;
  const aspect = 0.85 + 0.3 * rng();
  // min(rx, ry) = r * sqrt(0.85) ≥ 5.07 px at scale 1
  const rx = r * Math.sqrt(aspect);
  const ry = r / Math.sqrt(aspect);
  const depth = 0.28 + 0.17 * rng();
  const cx = between(rng, rx + 2, width - rx - 2);
  const cy = between(rng, ry + 2, height - ry - 2);
  const x0 = Math.max(0, Math.floor(cx - rx - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + rx + 1));
  const y0 = Math.max(0, Math.floor(cy - ry - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + ry + 1));
  for (let y = y0; y <= y1; y++) {
    const dy = (y - cy) / ry;
    for (let x = x0; x <= x1; x++) {
      const dx = (x - cx) / rx;
      // distance to the rim in pixels, approximately, for a one-pixel anti-aliased edge
      const edge = (1 - Math.sqrt(dx * dx + dy * dy)) * r;
      const p = Math.min(1, Math.max(0, edge + 0.5));
      if (p > 0) lum[y * width + x]! -= depth * p;
    }
  }
  return { type: "spot", box: clampBox(width, height, x0, y0, x1 + 1, y1 + 1) };
}

/** A straight scratch, dark (a groove in shadow) or bright (a burr catching the light). */
function scratch(lum: Float32Array, width: number, height: number, rng: Rng, scale: number): SynthDefect {
  const theta = rng() * Math.PI;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const halfWidth = ((2 + 1.5 * rng()) * scale) / 2;
  const margin = halfWidth + 2;
  // never longer than the frame allows along this direction (matters only for tiny frames)
  const fit = Math.min(
    Math.abs(cos) > 1e-6 ? (width - 2 * margin) / Math.abs(cos) : Number.POSITIVE_INFINITY,
    Math.abs(sin) > 1e-6 ? (height - 2 * margin) / Math.abs(sin) : Number.POSITIVE_INFINITY,
  );
  const length = Math.min((30 + 90 * rng()) * scale, fit);
  const contrast = (0.3 + 0.15 * rng()) * (rng() < 0.35 ? 1 : -1);
  const ex = (Math.abs(cos) * length) / 2;
  const ey = (Math.abs(sin) * length) / 2;
  const cx = between(rng, ex + margin, width - ex - margin);
  const cy = between(rng, ey + margin, height - ey - margin);
  // real scratches vary in depth along their length; keep ≥ 85% so contrast stays ≥ 0.25
  const wavePhase = rng() * Math.PI * 2;
  const waveFreq = (2 + 3 * rng()) / length;
  const taper = Math.max(1, 0.08 * length);
  const x0 = Math.max(0, Math.floor(cx - ex - halfWidth - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + ex + halfWidth + 1));
  const y0 = Math.max(0, Math.floor(cy - ey - halfWidth - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + ey + halfWidth + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const u = (x - cx) * cos + (y - cy) * sin;
      const v = -(x - cx) * sin + (y - cy) * cos;
      const across = Math.min(1, Math.max(0, halfWidth + 0.5 - Math.abs(v)));
      if (across <= 0) continue;
      const along = Math.min(1, Math.max(0, (length / 2 - Math.abs(u)) / taper));
      if (along <= 0) continue;
      const wave = 0.925 + 0.075 * Math.sin(wavePhase + u * waveFreq * Math.PI * 2);
      lum[y * width + x]! += contrast * wave * across * along;
    }
  }
  return { type: "scratch", box: clampBox(width, height, x0, y0, x1 + 1, y1 + 1) };
}

/** An oil or water stain: a soft, irregular dark blob made of three Gaussian lobes. */
function stain(lum: Float32Array, width: number, height: number, rng: Rng, scale: number): SynthDefect {
  const radius = (8 + 12 * rng()) * scale;
  const depth = 0.24 + 0.12 * rng();
  const extent = 1.1 * radius;
  const cx = between(rng, extent + 1, width - extent - 1);
  const cy = between(rng, extent + 1, height - extent - 1);
  const lobes = [{ x: cx, y: cy, sigma: radius / 2, weight: 1 }];
  for (let i = 0; i < 2; i++) {
    const a = rng() * Math.PI * 2;
    const d = (radius / 3) * rng();
    lobes.push({ x: cx + Math.cos(a) * d, y: cy + Math.sin(a) * d, sigma: radius / 2.5, weight: 0.6 });
  }
  // draw out to 3 sigma so the blob fades out smoothly; the box is where it is ≥ 10% deep
  const reach = 1.5 * radius + radius / 3;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(cy + reach));
  let bx0 = width;
  let by0 = height;
  let bx1 = -1;
  let by1 = -1;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let p = 0;
      for (const l of lobes) {
        const dx = x - l.x;
        const dy = y - l.y;
        p += l.weight * Math.exp(-(dx * dx + dy * dy) / (2 * l.sigma * l.sigma));
      }
      p = Math.min(1, p);
      lum[y * width + x]! -= depth * p;
      if (p >= 0.1) {
        if (x < bx0) bx0 = x;
        if (x > bx1) bx1 = x;
        if (y < by0) by0 = y;
        if (y > by1) by1 = y;
      }
    }
  }
  return { type: "stain", box: clampBox(width, height, bx0, by0, bx1 + 1, by1 + 1) };
}

function between(rng: Rng, lo: number, hi: number): number {
  return hi <= lo ? (lo + hi) / 2 : lo + rng() * (hi - lo);
}

/** [x0, y0) to (x1, y1] exclusive corners → an integer [x, y, w, h] inside the frame. */
function clampBox(width: number, height: number, x0: number, y0: number, x1: number, y1: number): SynthDefect["box"] {
  const ax = Math.max(0, Math.min(width - 1, Math.floor(x0)));
  const ay = Math.max(0, Math.min(height - 1, Math.floor(y0)));
  const bx = Math.max(ax + 1, Math.min(width, Math.ceil(x1)));
  const by = Math.max(ay + 1, Math.min(height, Math.ceil(y1)));
  return [ax, ay, bx - ax, by - ay];
}
