import type { DefectRegion } from "./defect-region.js";
import type { SynthDefect } from "./defect-type.js";
import { between, type Rng } from "./mulberry32.js";
import type { Raster } from "./raster.js";

/**
 * A hole (a blow hole in a casting, a drilled-through miss, a tear in cloth): a nearly round
 * opening of radius 4–10 px through which nothing is lit, so it is close to black, ringed by a
 * 1.2–2.2 px raised rim that catches the light on the side facing it. The mask is the opening
 * and its rim.
 */
export function drawHole(r: Raster, rng: Rng, region: DefectRegion): SynthDefect {
  const { lum, width, height, scale } = r;
  const rad = (4 + 6 * rng()) * scale;
  const aspect = 0.88 + 0.24 * rng();
  const rx = rad * Math.sqrt(aspect);
  const ry = rad / Math.sqrt(aspect);
  const rim = Math.max(1, (1.2 + rng()) * scale);
  const dark = 0.03 + 0.06 * rng();
  const rimAmp = 0.16 + 0.12 * rng();
  const outX = rx + rim;
  const outY = ry + rim;
  const cx = between(rng, outX + 2, width - outX - 2);
  const cy = between(rng, outY + 2, height - outY - 2);
  const lx = Math.cos(r.lightAngle);
  const ly = Math.sin(r.lightAngle);
  const x0 = Math.max(0, Math.floor(cx - outX - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + outX + 1));
  const y0 = Math.max(0, Math.floor(cy - outY - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + outY + 1));
  for (let y = y0; y <= y1; y++) {
    const dy = ((y - cy) / ry) * rad;
    for (let x = x0; x <= x1; x++) {
      const dx = ((x - cx) / rx) * rad;
      // distance from the centre, in px of the circle the ellipse was stretched from
      const d = Math.sqrt(dx * dx + dy * dy);
      const outer = Math.min(1, rad + rim + 0.5 - d);
      if (outer <= 0) continue;
      const inner = Math.min(1, Math.max(0, rad + 0.5 - d));
      // a burr all round, brightest towards the light, never unlit: the whole rim is the defect
      const facing = d > 0 ? (dx * lx + dy * ly) / d : 0;
      const lit = 0.6 + 0.4 * facing;
      const i = y * width + x;
      lum[i] = lum[i]! * (1 - inner) + dark * inner + rimAmp * lit * (outer - inner);
      if (outer >= 0.5) region.add(x, y);
    }
  }
  return region.finish("hole", cx, cy);
}
