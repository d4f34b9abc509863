import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  allSurfaceKinds,
  type DefectType,
  defectClassIndex,
  defectTypes,
  defectTypesFor,
  plainSurfaceKinds,
  renderFrame,
  renderPixels,
  SyntheticCamera,
  surfaceKinds,
} from "../src/index.js";

describe("surfaces", () => {
  it("are deterministic: same inputs, same bytes; another seed or index, other bytes", async () => {
    for (const surface of allSurfaceKinds) {
      const opts = { seed: 21, surface, defectRate: 0.5, maxDefects: 2, masks: true };
      const a = await renderFrame(5, opts);
      const b = await renderFrame(5, { ...opts });
      expect(a.jpeg.equals(b.jpeg), surface).toBe(true);
      expect(a.mask!.equals(b.mask!), surface).toBe(true);
      expect(b.defects).toEqual(a.defects);
      expect((await renderFrame(5, { ...opts, seed: 22 })).jpeg.equals(a.jpeg), surface).toBe(false);
      expect((await renderFrame(6, opts)).jpeg.equals(a.jpeg), surface).toBe(false);
    }
  });

  it("list every surface and defect type, and which defects make sense where", () => {
    expect(allSurfaceKinds).toEqual(["brushed-metal", "cast", "woven-fabric", "ceramic-tile", "pcb"]);
    // kept for the blemish model's calibration test, which iterates it (see surface-kind.ts)
    expect(surfaceKinds).toEqual(plainSurfaceKinds);
    expect(defectTypes).toEqual(["spot", "scratch", "stain", "crack", "hole", "missing-feature", "extra-feature"]);
    expect(defectTypes.map((t) => defectClassIndex[t])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const surface of allSurfaceKinds) {
      const features = defectTypesFor(surface).filter((t) => t.endsWith("-feature"));
      expect(features.length > 0, surface).toBe(surface === "pcb" || surface === "ceramic-tile");
    }
    expect(() => new SyntheticCamera({ seed: 1, surface: "cast", defects: ["missing-feature"] })).toThrow(/defects/);
    expect(() => new SyntheticCamera({ seed: 1, surface: "pcb", defects: [] })).toThrow(/defects/);
    expect(() => new SyntheticCamera({ seed: 1, maxDefects: 0 })).toThrow(/maxDefects/);
    expect(() => new SyntheticCamera({ seed: 1, noise: -1 })).toThrow(/noise/);
    expect(() => new SyntheticCamera({ seed: 1, lightingJitter: 11 })).toThrow(/lightingJitter/);
    expect(() => new SyntheticCamera({ seed: 1, surface: "wood" as "cast" })).toThrow(/surface/);
  });

  it("render every surface/defect combination at any size, boxes inside the frame", () => {
    const sizes: Array<[number, number]> = [
      [320, 240],
      [200, 150],
      [400, 100],
      [32, 32],
    ];
    for (const surface of allSurfaceKinds) {
      for (const type of defectTypesFor(surface)) {
        for (const [width, height] of sizes) {
          for (let i = 0; i < 3; i++) {
            const px = renderPixels(i, {
              seed: 8,
              surface,
              width,
              height,
              defectRate: 1,
              defects: [type],
              masks: true,
            });
            const d = px.defect!;
            const where = `${surface}/${type} ${width}x${height} #${i}`;
            // on a frame too small for any feature, a feature defect becomes a spot
            if (width >= 200) expect(d.type, where).toBe(type);
            else expect([type, "spot"], where).toContain(d.type);
            const [x, y, w, h] = d.box;
            expect(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= width && y + h <= height, where).toBe(true);
            expect(d.area, where).toBeGreaterThanOrEqual(1);
            expect(d.area, where).toBeLessThanOrEqual(w * h);
          }
        }
      }
    }
  });

  it("look like their material: lit, unclipped, coloured where they should be, textured", async () => {
    for (const surface of allSurfaceKinds) {
      const { rgb } = renderPixels(4, { seed: 1, surface, defectRate: 0 });
      const stats = await sharp(rgb, { raw: { width: 320, height: 240, channels: 3 } }).stats();
      const [r, g, b] = stats.channels.map((c) => c.mean / 255) as [number, number, number];
      const luma = 0.299 * r + 0.587 * g + 0.114 * b;
      expect(luma, surface).toBeGreaterThan(0.15);
      expect(luma, surface).toBeLessThan(0.85);
      let clipped = 0;
      for (const v of rgb) if (v === 0 || v === 255) clipped++;
      expect(clipped / rgb.length, surface).toBeLessThan(0.01);
      if (surface === "pcb") expect(g).toBeGreaterThan(Math.max(r, b) * 1.3);
      // patterned surfaces have structure a detector must learn; plain ones only faint texture
      const sd = stats.channels[1]!.stdev / 255;
      if (plainSurfaceKinds.includes(surface)) expect(sd, surface).toBeLessThan(0.06);
      else expect(sd, surface).toBeGreaterThan(0.03);
    }
  });

  it("keep a board's design and a tile grid's size from frame to frame, moving them a little", () => {
    const a = renderPixels(0, { seed: 5, surface: "pcb", defectRate: 0 });
    const b = renderPixels(1, { seed: 5, surface: "pcb", defectRate: 0 });
    const c = renderPixels(0, { seed: 6, surface: "pcb", defectRate: 0 });
    // green mask vs bright copper/pads: the share of bright pixels is the design's, ± shift
    const bright = (rgb: Uint8Array) => {
      let n = 0;
      for (let i = 0; i < rgb.length; i += 3) if (rgb[i]! > 120) n++;
      return n / (rgb.length / 3);
    };
    expect(Math.abs(bright(a.rgb) - bright(b.rgb))).toBeLessThan(0.01);
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(false);
    expect(Math.abs(bright(a.rgb) - bright(c.rgb))).toBeGreaterThan(0.002);
  });

  it("respect defectRate on the new surfaces, and draw every type they allow", () => {
    for (const surface of ["woven-fabric", "ceramic-tile", "pcb"] as const) {
      const seen = new Map<DefectType, number>();
      let defective = 0;
      let defects = 0;
      for (let i = 0; i < 300; i++) {
        const px = renderPixels(i, { seed: 12, surface, width: 160, height: 120, defectRate: 0.2, maxDefects: 3 });
        if (px.defects.length > 0) defective++;
        defects += px.defects.length;
        for (const d of px.defects) seen.set(d.type, (seen.get(d.type) ?? 0) + 1);
      }
      // binomial(300, 0.2) has SD 6.9; ±21 is ~3 SD
      expect(defective, surface).toBeGreaterThanOrEqual(39);
      expect(defective, surface).toBeLessThanOrEqual(81);
      // 1..3 defects, uniform: 2 on average
      expect(defects / defective, surface).toBeGreaterThan(1.6);
      expect(defects / defective, surface).toBeLessThan(2.4);
      expect([...seen.keys()].sort(), surface).toEqual([...defectTypesFor(surface)].sort());
    }
  });

  it("vary lighting and noise as asked", () => {
    const sd = (rgb: Uint8Array, other: Uint8Array) => {
      let s = 0;
      for (let i = 0; i < rgb.length; i++) s += (rgb[i]! - other[i]!) ** 2;
      return Math.sqrt(s / rgb.length);
    };
    const base = { seed: 2, surface: "ceramic-tile" as const, defectRate: 0 };
    const clean = renderPixels(0, { ...base, noise: 0 }).rgb;
    // noise SD in grey levels follows the option (0.04 of full scale ≈ 10 levels, on a tile's albedo)
    const n1 = sd(renderPixels(0, { ...base, noise: 0.01 }).rgb, clean);
    const n4 = sd(renderPixels(0, { ...base, noise: 0.04 }).rgb, clean);
    expect(n4 / n1).toBeGreaterThan(3.5);
    expect(n4 / n1).toBeLessThan(4.5);
    // frame-to-frame exposure: only texture moves the mean with jitter 0, more with more
    const mean = (rgb: Uint8Array) => rgb.reduce((a, v) => a + v, 0) / rgb.length;
    const spread = (jitter: number) => {
      const m = Array.from({ length: 12 }, (_, i) =>
        mean(renderPixels(i, { seed: 2, surface: "cast", defectRate: 0, lightingJitter: jitter }).rgb),
      );
      return Math.max(...m) - Math.min(...m);
    };
    const [s0, s1, s5] = [spread(0), spread(1), spread(5)];
    expect(s1).toBeGreaterThan(2 * s0);
    expect(s5).toBeGreaterThan(3 * s1);
  });
});
