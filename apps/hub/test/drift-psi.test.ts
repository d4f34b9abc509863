import {
  DRIFT_EPSILON,
  driftBand,
  driftBin,
  driftHistogram,
  parseDriftWindow,
  populationStabilityIndex,
  psiNoise,
} from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { compareHistograms } from "../src/drift/drift-report.js";

const h = (...head: number[]) => [...head, ...new Array<number>(10 - head.length).fill(0)];

describe("PSI, by hand", () => {
  it("mirrored proportions: Σ (f − r)·ln(f / r) = 2·(0.3·ln 4 + 0.1·ln 1.5) = 0.912870", () => {
    // reference 10/20/30/40 %, field 40/30/20/10 %; bins 4…9 empty on both sides add 0
    const psi = populationStabilityIndex(h(10, 20, 30, 40), h(40, 30, 20, 10))!;
    expect(psi).toBeCloseTo(2 * (0.3 * Math.log(4) + 0.1 * Math.log(1.5)), 12);
    expect(psi).toBeCloseTo(0.91287, 5);
    // symmetric, and scale-free: counts ×7 give the same index
    expect(populationStabilityIndex(h(40, 30, 20, 10), h(10, 20, 30, 40))).toBeCloseTo(psi, 12);
    expect(populationStabilityIndex(h(70, 140, 210, 280), h(40, 30, 20, 10))).toBeCloseTo(psi, 12);
  });

  it("an empty reference bin is raised to ε = 1e-4: 10 % of the field there is significant on its own", () => {
    expect(DRIFT_EPSILON).toBe(1e-4);
    // (0.9 − 1)·ln 0.9 + (0.1 − 1e-4)·ln(0.1 / 1e-4) = 0.0105361 + 0.6900847
    const psi = populationStabilityIndex(h(100), h(90, 10))!;
    expect(psi).toBeCloseTo(0.1 * Math.log(1 / 0.9) + (0.1 - 1e-4) * Math.log(1000), 12);
    expect(psi).toBeCloseTo(0.700621, 5);
    expect(driftBand(psi)).toBe("significant");
  });

  it("identical proportions give 0; an empty side gives no index; different bins are an error", () => {
    expect(populationStabilityIndex(h(5, 10, 5), h(50, 100, 50))).toBe(0);
    expect(populationStabilityIndex(h(), h(1))).toBeNull();
    expect(populationStabilityIndex(h(1), h())).toBeNull();
    expect(() => populationStabilityIndex([1, 2], h(1))).toThrow(RangeError);
  });

  it("bands: < 0.1 stable, 0.1–0.25 moderate, > 0.25 significant", () => {
    expect(driftBand(0)).toBe("stable");
    expect(driftBand(0.0999)).toBe("stable");
    expect(driftBand(0.1)).toBe("moderate");
    expect(driftBand(0.25)).toBe("moderate");
    expect(driftBand(0.2501)).toBe("significant");
  });

  it("bins: [0, 0.1) … [0.9, 1.0], edges by comparison (0.7·10 rounds up, 0.7 < 0.7 does not)", () => {
    expect([0, 0.0999, 0.1, 0.3, 0.7, 0.6999999, 0.95, 1, 1.5, -0.2].map(driftBin)).toEqual([
      0, 0, 1, 3, 7, 6, 9, 9, 9, 0,
    ]);
    expect(driftHistogram([0.05, 0.15, 0.15, 1])).toEqual(h(1, 2, 0, 0, 0, 0, 0, 0, 0, 1));
  });

  it("sampling noise: (bins used − 1)·(1/n_ref + 1/n_field)", () => {
    expect(psiNoise(h(20, 20), h(0, 50, 50))).toBeCloseTo(2 * (1 / 40 + 1 / 100), 12);
    expect(psiNoise(h(), h(1))).toBeNull();
  });

  it("a PSI only with enough counts on both sides; the histograms always", () => {
    const few = compareHistograms("luma", null, h(10, 10), h(20, 29));
    expect(few).toMatchObject({ status: "few-frames", psi: null, band: null, field: h(20, 29) });
    expect(compareHistograms("luma", null, h(9, 10), h(300)).status).toBe("few-reference");
    expect(compareHistograms("luma", null, null, h(300))).toMatchObject({
      status: "no-reference",
      psi: null,
      reference: null,
    });
    const ok = compareHistograms("contrast", null, h(10, 20, 30, 40), h(40, 30, 20, 10));
    expect(ok.status).toBe("ok");
    expect(ok.psi).toBeCloseTo(0.91287, 5);
    expect(ok.band).toBe("significant");
  });

  it("windows: hours or days, up to 30 days", () => {
    expect(parseDriftWindow(undefined)).toBe(24);
    expect(parseDriftWindow("6h")).toBe(6);
    expect(parseDriftWindow("7d")).toBe(168);
    expect(parseDriftWindow("30d")).toBe(720);
    expect(parseDriftWindow("31d")).toBeNull();
    expect(parseDriftWindow("0h")).toBeNull();
    expect(parseDriftWindow("24")).toBeNull();
  });
});
