import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { renderFrame, renderPixels, SyntheticCamera, type SynthOptions, surfaceKinds } from "../src/index.js";

describe("renderFrame", () => {
  it("is a pure function of (index, options): same bytes again, other bytes for another seed or index", async () => {
    const a = await renderFrame(17, { seed: 1, defectRate: 0.5 });
    const b = await renderFrame(17, { seed: 1, defectRate: 0.5 });
    expect(Buffer.compare(a.jpeg, b.jpeg)).toBe(0);
    expect(b.defect).toEqual(a.defect);
    const otherSeed = await renderFrame(17, { seed: 2, defectRate: 0.5 });
    const otherIndex = await renderFrame(18, { seed: 1, defectRate: 0.5 });
    expect(otherSeed.jpeg.equals(a.jpeg)).toBe(false);
    expect(otherIndex.jpeg.equals(a.jpeg)).toBe(false);
  });

  it("renders frame n without rendering frames 0..n-1, as the camera's nth frame", async () => {
    const opts: SynthOptions = { seed: 7, surface: "cast" };
    const cam = new SyntheticCamera(opts);
    const frames = [];
    for (let i = 0; i < 4; i++) frames.push(await cam.next());
    expect(frames.map((f) => f.index)).toEqual([0, 1, 2, 3]);
    expect(cam.index).toBe(4);
    const direct = await renderFrame(3, opts);
    expect(direct.jpeg.equals(frames[3]!.jpeg)).toBe(true);
  });

  it("encodes a JPEG of the requested size", async () => {
    for (const surface of surfaceKinds) {
      const f = await renderFrame(0, { seed: 3, surface, width: 200, height: 150 });
      const meta = await sharp(f.jpeg).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(["jpeg", 200, 150, 3]);
      expect([f.width, f.height, f.seed, f.index]).toEqual([200, 150, 3, 0]);
    }
  });

  it("surfaces look like mid-grey parts: mean 0.45..0.65, texture far fainter than a defect", async () => {
    for (const surface of surfaceKinds) {
      const { rgb } = renderPixels(4, { seed: 1, surface, defectRate: 0 });
      const stats = await sharp(rgb, { raw: { width: 320, height: 240, channels: 3 } }).stats();
      for (const ch of stats.channels) {
        expect(ch.mean / 255).toBeGreaterThan(0.45);
        expect(ch.mean / 255).toBeLessThan(0.65);
        // gradient + texture + noise, but nothing near a defect's ≥ 0.25 contrast on top
        expect(ch.stdev / 255).toBeLessThan(0.06);
      }
    }
    const brushed = renderPixels(4, { seed: 1, surface: "brushed-metal" }).rgb;
    const cast = renderPixels(4, { seed: 1, surface: "cast" }).rgb;
    expect(Buffer.from(brushed).equals(Buffer.from(cast))).toBe(false);
  });

  it("respects defectRate over 500 frames and keeps every box inside the frame", async () => {
    const cam = new SyntheticCamera({ seed: 11, defectRate: 0.3 });
    const counts: Record<string, number> = { spot: 0, scratch: 0, stain: 0 };
    let defects = 0;
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) {
      const f = await cam.next();
      if (!f.defect) continue;
      defects++;
      counts[f.defect.type] = (counts[f.defect.type] ?? 0) + 1;
      const [x, y, w, h] = f.defect.box;
      expect(Number.isInteger(x) && Number.isInteger(y) && Number.isInteger(w) && Number.isInteger(h)).toBe(true);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(w).toBeGreaterThan(0);
      expect(h).toBeGreaterThan(0);
      expect(x + w).toBeLessThanOrEqual(f.width);
      expect(y + h).toBeLessThanOrEqual(f.height);
    }
    const ms = performance.now() - t0;
    console.log(
      `synth: 500 frames 320x240 brushed-metal in ${ms.toFixed(0)} ms = ${((500 * 1000) / ms).toFixed(0)} frames/s ` +
        `(render + JPEG encode, sequential); defects ${defects} ${JSON.stringify(counts)}`,
    );
    // binomial(500, 0.3) has SD 10.2; ±30 is ~3 SD
    expect(defects).toBeGreaterThanOrEqual(120);
    expect(defects).toBeLessThanOrEqual(180);
    // the plain surfaces keep drawing only the three original types unless asked for more
    expect(Object.keys(counts).sort()).toEqual(["scratch", "spot", "stain"]);
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(20);
  });

  it("defectRate 0 and 1 mean never and always; which frames have defects does not depend on the surface", () => {
    for (let i = 0; i < 40; i++) {
      expect(renderPixels(i, { seed: 5, defectRate: 0 }).defect).toBeNull();
      expect(renderPixels(i, { seed: 5, defectRate: 1 }).defect).not.toBeNull();
      const a = renderPixels(i, { seed: 5, surface: "brushed-metal" }).defect;
      const b = renderPixels(i, { seed: 5, surface: "cast" }).defect;
      expect(b).toEqual(a);
    }
  });

  it("draws each defect clearly (≥ 0.25 contrast) and only inside its box and its anti-aliased rim", () => {
    // the same frame without its defect differs only by the defect: every stream is separate
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const withDefect = renderPixels(i, { seed: 2, defectRate: 1 });
      const clean = renderPixels(i, { seed: 2, defectRate: 0 });
      const defect = withDefect.defect!;
      seen.add(defect.type);
      const [bx, by, bw, bh] = defect.box;
      let inside = 0;
      let outside = 0;
      for (let y = 0; y < 240; y++) {
        for (let x = 0; x < 320; x++) {
          const j = (y * 320 + x) * 3 + 1;
          const d = Math.abs(withDefect.rgb[j]! - clean.rgb[j]!);
          const inBox = x >= bx && x < bx + bw && y >= by && y < by + bh;
          // the box is the mask's: pixels whose centre is inside the shape; the one-pixel
          // anti-aliased rim around it is changed but outside
          const nearBox = x >= bx - 1 && x <= bx + bw && y >= by - 1 && y <= by + bh;
          if (inBox) inside = Math.max(inside, d);
          else if (!nearBox) outside = Math.max(outside, d);
        }
      }
      expect(inside, `${defect.type} in frame ${i}`).toBeGreaterThanOrEqual(Math.floor(0.25 * 255));
      // only a stain's faint tail (< 10% of its depth) may reach past its box
      expect(outside, `${defect.type} in frame ${i}`).toBeLessThanOrEqual(defect.type === "stain" ? 10 : 0);
      const size = Math.max(bw, bh);
      if (defect.type === "spot") expect(Math.min(bw, bh)).toBeGreaterThanOrEqual(10);
      if (defect.type === "scratch") expect(size).toBeGreaterThanOrEqual(28);
      if (defect.type === "stain") expect(size).toBeGreaterThanOrEqual(14);
    }
    expect([...seen].sort()).toEqual(["scratch", "spot", "stain"]);
  });

  it("rejects options it cannot honour with a RangeError naming the option", () => {
    expect(() => new SyntheticCamera({ seed: 1, defectRate: 1.5 })).toThrow(/defectRate/);
    expect(() => new SyntheticCamera({ seed: 1.5 })).toThrow(/seed/);
    expect(() => new SyntheticCamera({ seed: 1, width: 8 })).toThrow(/width/);
    expect(() => new SyntheticCamera({ seed: 1, jpegQuality: 0 })).toThrow(/jpegQuality/);
    expect(() => new SyntheticCamera({ seed: 1, surface: "wood" as "cast" })).toThrow(/surface/);
    expect(() => renderPixels(-1, { seed: 1 })).toThrow(/index/);
  });
});
