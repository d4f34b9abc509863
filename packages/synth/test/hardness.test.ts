import { describe, expect, it } from "vitest";
import { DRIFT_PERIOD_FRAMES, hardPreset, renderPixels, type SynthOptions } from "../src/index.js";

/** mean luminance (the green channel) of a raw RGB frame, 0..255 */
function mean(rgb: Uint8Array, pixels?: Int32Array): number {
  let s = 0;
  if (pixels) {
    for (const i of pixels) s += rgb[i * 3 + 1]!;
    return s / pixels.length;
  }
  for (let i = 1; i < rgb.length; i += 3) s += rgb[i]!;
  return s / (rgb.length / 3);
}

/** RMS difference between neighbours `step` pixels apart (1: along rows, width: down columns) */
function roughness(rgb: Uint8Array, step: number): number {
  let s = 0;
  let n = 0;
  for (let p = step; p < rgb.length / 3; p++) {
    if (step === 1 && p % 320 === 0) continue;
    const d = rgb[p * 3 + 1]! - rgb[(p - step) * 3 + 1]!;
    s += d * d;
    n++;
  }
  return Math.sqrt(s / n);
}

/** the largest step between horizontal neighbours, in grey levels */
function steepest(rgb: Uint8Array): number {
  let max = 0;
  for (let p = 1; p < rgb.length / 3; p++) {
    if (p % 320 !== 0) max = Math.max(max, Math.abs(rgb[p * 3 + 1]! - rgb[(p - 1) * 3 + 1]!));
  }
  return max;
}

/** how far a frame's defect pixels sit from the frame's mean, in grey levels */
function defectContrast(opts: SynthOptions, index: number): number {
  const px = renderPixels(index, { ...opts, masks: true });
  const pixels = px.defectPixels?.[0];
  if (!pixels) throw new Error(`frame ${index} has no defect`);
  return Math.abs(mean(px.rgb, pixels) - mean(px.rgb));
}

describe("harder frames", () => {
  it("changes nothing when no hardness is asked for", () => {
    const plain = renderPixels(5, { seed: 3, defectRate: 1 });
    const zero = renderPixels(5, { seed: 3, defectRate: 1, faint: 0, drift: 0, texture: 1, blur: 0 });
    expect(Buffer.from(zero.rgb).equals(Buffer.from(plain.rgb))).toBe(true);
  });

  it("is deterministic and keeps which frames have defects, and where", () => {
    const a = renderPixels(11, { seed: 9, defectRate: 0.5, ...hardPreset });
    const b = renderPixels(11, { seed: 9, defectRate: 0.5, ...hardPreset });
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    for (let i = 0; i < 40; i++) {
      const easy = renderPixels(i, { seed: 9, defectRate: 0.5 });
      const hard = renderPixels(i, { seed: 9, defectRate: 0.5, ...hardPreset });
      expect(hard.defects).toEqual(easy.defects);
    }
  });

  it("draws faint defects at a fraction of their contrast, with the same mask", () => {
    const opts = { seed: 2, defectRate: 1, defects: ["spot"] as const, lightingJitter: 0, noise: 0 };
    for (const index of [0, 1, 2]) {
      const full = defectContrast(opts, index);
      const faint = defectContrast({ ...opts, faint: 1 }, index);
      expect(full).toBeGreaterThan(40);
      expect(faint).toBeGreaterThan(0.1 * full);
      expect(faint).toBeLessThan(0.6 * full);
      const a = renderPixels(index, { ...opts, masks: true });
      const b = renderPixels(index, { ...opts, faint: 1, masks: true });
      expect(b.defectPixels).toEqual(a.defectPixels);
    }
    // with faint 0.35 about a third of the defective frames are faint
    const hard = { seed: 2, defectRate: 1, lightingJitter: 0, noise: 0 };
    let faintFrames = 0;
    for (let i = 0; i < 60; i++) {
      if (defectContrast({ ...hard, faint: 0.35 }, i) < 0.6 * defectContrast(hard, i)) faintFrames++;
    }
    expect(faintFrames).toBeGreaterThan(10);
    expect(faintFrames).toBeLessThan(35);
  });

  it("drifts the light slowly over the frame index, and roughens the texture", () => {
    const opts = { seed: 4, defectRate: 0, lightingJitter: 0 };
    const means = Array.from({ length: 8 }, (_, k) =>
      mean(renderPixels(Math.round((k * DRIFT_PERIOD_FRAMES) / 8), { ...opts, drift: 1 }).rgb),
    );
    // brightness ±0.1 of full scale at drift 1: a swing of tens of grey levels over a period
    expect(Math.max(...means) - Math.min(...means)).toBeGreaterThan(25);
    // slow: neighbouring frames differ by far less than the swing
    const near = [0, 1].map((i) => mean(renderPixels(100 + i, { ...opts, drift: 1 }).rgb));
    expect(Math.abs(near[0]! - near[1]!)).toBeLessThan(2);
    // brushing runs along the rows: the texture shows from row to row (no sensor noise here)
    const plain = roughness(renderPixels(3, { ...opts, noise: 0 }).rgb, 320);
    const rough = roughness(renderPixels(3, { ...opts, noise: 0, texture: 3 }).rgb, 320);
    expect(rough).toBeGreaterThan(1.8 * plain);
  });

  it("blurs about the share of frames asked for", () => {
    // a spot's rim is a step of tens of grey levels within a pixel or two: blurred, it spreads out
    const opts = { seed: 6, defectRate: 1, defects: ["spot"], lightingJitter: 0, noise: 0 } as const;
    let blurred = 0;
    for (let i = 0; i < 40; i++) {
      const sharpFrame = renderPixels(i, opts).rgb;
      const frame = renderPixels(i, { ...opts, blur: 0.5 }).rgb;
      // a frame is either left as it was or blurred
      if (Buffer.from(frame).equals(Buffer.from(sharpFrame))) continue;
      expect(steepest(frame)).toBeLessThan(0.6 * steepest(sharpFrame));
      blurred++;
    }
    expect(blurred).toBeGreaterThan(10);
    expect(blurred).toBeLessThan(30);
  });

  it("rejects out-of-range hardness with a RangeError naming the option", () => {
    expect(() => renderPixels(0, { seed: 1, faint: 1.5 })).toThrow(/faint must be in 0..1/);
    expect(() => renderPixels(0, { seed: 1, drift: -0.1 })).toThrow(/drift must be in 0..1/);
    expect(() => renderPixels(0, { seed: 1, texture: 5 })).toThrow(/texture must be in 0..4/);
    expect(() => renderPixels(0, { seed: 1, blur: Number.NaN })).toThrow(/blur must be in 0..1/);
  });
});
