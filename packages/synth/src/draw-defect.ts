import type { DefectRegion } from "./defect-region.js";
import type { DefectType, SynthDefect } from "./defect-type.js";
import { drawCrack } from "./draw-crack.js";
import { drawExtraFeature, drawMissingFeature } from "./draw-feature-defect.js";
import { drawHole } from "./draw-hole.js";
import { between, type Rng } from "./mulberry32.js";
import type { Raster } from "./raster.js";

/**
 * Draws one defect of a type picked uniformly from `types` into the raster and returns it, its
 * pixels marked in `region`. Sizes are given for 320x240 and multiplied by `raster.scale`. The
 * ranges are the generator's contract with detectors (the blemish model in @kensa/vision is
 * tuned against spots, scratches and stains): a spot has radius ≥ 5 px and depth ≥ 0.28, a
 * scratch is 30–120 px long, ≥ 2 px wide with contrast ≥ 0.25, a stain is a soft blob of radius
 * 8–20 px; cracks, holes and feature defects are described where they are drawn — all clearly
 * visible to a person looking at the frame.
 *
 * Masks mark the pixels whose centre lies inside the drawn shape (coverage ≥ 0.5), so the
 * one-pixel anti-aliased rim is outside; a stain has no edge and marks where it is ≥ 10% deep.
 */
export function drawDefect(r: Raster, types: readonly DefectType[], rng: Rng, region: DefectRegion): SynthDefect {
  const type = types[Math.floor(rng() * types.length)] ?? "spot";
  switch (type) {
    case "spot":
      return spot(r, rng, region);
    case "scratch":
      return scratch(r, rng, region);
    case "stain":
      return stain(r, rng, region);
    case "crack":
      return drawCrack(r, rng, region);
    case "hole":
      return drawHole(r, rng, region);
    case "missing-feature":
      return drawMissingFeature(r, rng, region) ?? spot(r, rng, region);
    case "extra-feature":
      return drawExtraFeature(r, rng, region) ?? spot(r, rng, region);
  }
}

/** A dark pit or inclusion: a slightly elliptic disc with a soft rim. */
export function spot(r: Raster, rng: Rng, region: DefectRegion): SynthDefect {
  const { lum, width, height, scale } = r;
  const rad = (5.5 + 4.5 * rng()) * scale;
  const aspect = 0.85 + 0.3 * rng();
  // min(rx, ry) = r * sqrt(0.85) ≥ 5.07 px at scale 1
  const rx = rad * Math.sqrt(aspect);
  const ry = rad / Math.sqrt(aspect);
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
      const edge = (1 - Math.sqrt(dx * dx + dy * dy)) * rad;
      const p = Math.min(1, Math.max(0, edge + 0.5));
      if (p > 0) lum[y * width + x]! -= depth * p;
      if (p >= 0.5) region.add(x, y);
    }
  }
  return region.finish("spot", cx, cy);
}

/** A straight scratch, dark (a groove in shadow) or bright (a burr catching the light). */
function scratch(r: Raster, rng: Rng, region: DefectRegion): SynthDefect {
  const { lum, width, height, scale } = r;
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
      // the tapered ends are part of the scratch however faint, so the mask reaches its tips
      if (across >= 0.5) region.add(x, y);
    }
  }
  return region.finish("scratch", cx, cy);
}

/** An oil or water stain: a soft, irregular dark blob made of three Gaussian lobes. */
function stain(r: Raster, rng: Rng, region: DefectRegion): SynthDefect {
  const { lum, width, height, scale } = r;
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
  // draw out to 3 sigma so the blob fades out smoothly; the mask is where it is ≥ 10% deep
  const reach = 1.5 * radius + radius / 3;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(cy + reach));
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
      if (p >= 0.1) region.add(x, y);
    }
  }
  return region.finish("stain", cx, cy);
}
