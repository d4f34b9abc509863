import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  allSurfaceKinds,
  type DefectType,
  defectClassIndex,
  defectTypesFor,
  renderFrame,
  renderPixels,
  type SurfaceKind,
} from "../src/index.js";

const W = 320;
const H = 240;

/** Largest per-channel difference per pixel between two renders of the same frame. */
function diff(a: Uint8Array, b: Uint8Array): Uint8Array {
  const d = new Uint8Array(a.length / 3);
  for (let i = 0; i < d.length; i++) {
    const j = i * 3;
    d[i] = Math.max(Math.abs(a[j]! - b[j]!), Math.abs(a[j + 1]! - b[j + 1]!), Math.abs(a[j + 2]! - b[j + 2]!));
  }
  return d;
}

/** The mask grown by one pixel in all eight directions. */
function dilate(mask: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++) {
        for (let xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) out[yy * w + xx] = 1;
      }
    }
  }
  return out;
}

const combos: Array<[SurfaceKind, DefectType]> = allSurfaceKinds.flatMap((s) =>
  defectTypesFor(s).map((t): [SurfaceKind, DefectType] => [s, t]),
);

describe("defect masks", () => {
  it.each(combos)(
    "on %s, a %s's mask is exactly what the defect changed, and its box is the mask's",
    (surface, type) => {
      let worstCover = 1;
      for (const index of [0, 1, 2, 3, 4, 5]) {
        const seed = 40 + index;
        const px = renderPixels(index, { seed, surface, defectRate: 1, defects: [type], masks: true });
        const clean = renderPixels(index, { seed, surface, defectRate: 0 });
        const defect = px.defect!;
        expect(defect.type).toBe(type);
        const mask = px.mask!;
        const own = px.defectPixels![0]!;
        // box and area come from the mask
        let x0 = W;
        let y0 = H;
        let x1 = -1;
        let y1 = -1;
        let n = 0;
        for (let i = 0; i < mask.length; i++) {
          if (!mask[i]) continue;
          expect(mask[i]).toBe(defectClassIndex[type]);
          n++;
          const x = i % W;
          const y = (i - x) / W;
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
        expect(n).toBe(defect.area);
        expect(own.length).toBe(n);
        expect(defect.box).toEqual([x0, y0, x1 - x0 + 1, y1 - y0 + 1]);

        const changed = diff(px.rgb, clean.rgb);
        const grown = dilate(mask, W, H);
        // a stain has no edge: its faint tail (< 10% of its depth, ≤ 14 levels even on a white
        // tile) is outside the mask on purpose
        const tail = type === "stain" ? 14 : 0;
        let strays = 0;
        let covered = 0;
        for (let i = 0; i < changed.length; i++) {
          if (changed[i]! > tail && !grown[i]) strays++;
          if (mask[i] && changed[i]! > 0) covered++;
        }
        expect(strays, `${surface}/${type} frame ${index}: changed pixels outside the mask's 1-px rim`).toBe(0);
        worstCover = Math.min(worstCover, covered / n);
      }
      // pixels may be in the mask yet unchanged only where the image clips (a bright burr on a
      // white tile) or a scratch fades out at its tips
      expect(worstCover, `${surface}/${type}: share of mask pixels the defect changed`).toBeGreaterThanOrEqual(0.9);
    },
  );

  it("ships the class mask as a single-channel PNG when asked, and only then", async () => {
    for (const surface of allSurfaceKinds) {
      const opts = { seed: 9, surface, defectRate: 1, masks: true };
      const f = await renderFrame(2, opts);
      const px = renderPixels(2, opts);
      const meta = await sharp(f.mask!).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual(["png", W, H, 1, "uchar"]);
      // IHDR: 8 bits, colour type 0 (greyscale): what any PNG reader takes for a label image
      expect([f.mask![24], f.mask![25]]).toEqual([8, 0]);
      const { data } = await sharp(f.mask!).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
      expect(Buffer.from(px.mask!).equals(data)).toBe(true);
      expect(f.defects).toEqual(px.defects);
      const plain = await renderFrame(2, { ...opts, masks: false });
      expect(plain.mask).toBeUndefined();
      expect(plain.jpeg.equals(f.jpeg)).toBe(true);
      expect(renderPixels(2, { ...opts, masks: false }).mask).toBeUndefined();
    }
  });

  it("draws up to maxDefects per defective frame, the first one the same as with one", () => {
    const perFrame: number[] = [];
    for (let i = 0; i < 40; i++) {
      const one = renderPixels(i, { seed: 3, surface: "pcb", defectRate: 1 });
      const many = renderPixels(i, { seed: 3, surface: "pcb", defectRate: 1, maxDefects: 3, masks: true });
      expect(many.defect).toEqual(one.defect);
      expect(many.defects[0]).toEqual(one.defect);
      perFrame.push(many.defects.length);
      // the class mask holds every defect, the later one on top where they overlap
      const last = many.defects.at(-1)!;
      for (const p of many.defectPixels!.at(-1)!) expect(many.mask![p]).toBe(defectClassIndex[last.type]);
      for (const [k, d] of many.defects.entries()) expect(many.defectPixels![k]!.length).toBe(d.area);
    }
    expect(Math.min(...perFrame)).toBe(1);
    expect(Math.max(...perFrame)).toBe(3);
    expect(new Set(perFrame).size).toBe(3);
  });
});
