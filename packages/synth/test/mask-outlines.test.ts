import { describe, expect, it } from "vitest";
import { maskToPolygons, maskToRle } from "../src/index.js";

/** Pixel indices of the '#' cells of a picture, one string per row. */
function pixels(rows: string[]): { px: number[]; width: number } {
  const width = rows[0]!.length;
  const px: number[] = [];
  rows.forEach((row, y) => {
    for (let x = 0; x < width; x++) if (row[x] === "#") px.push(y * width + x);
  });
  return { px, width };
}

const area = (p: number[]) => {
  let a = 0;
  for (let k = 0; k < p.length; k += 2) {
    const j = (k + 2) % p.length;
    a += p[k]! * p[j + 1]! - p[j]! * p[k + 1]!;
  }
  return a / 2;
};

/** Even-odd point-in-polygon at pixel centres: the pixels a polygon rasterises to. */
function rasterise(polys: number[][], width: number, height: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      let inside = false;
      for (const p of polys) {
        let polyInside = false;
        for (let k = 0, j = p.length - 2; k < p.length; j = k, k += 2) {
          const [xi, yi, xj, yj] = [p[k]!, p[k + 1]!, p[j]!, p[j + 1]!];
          if (yi > cy !== yj > cy && cx < ((xj - xi) * (cy - yi)) / (yj - yi) + xi) polyInside = !polyInside;
        }
        inside ||= polyInside;
      }
      if (inside) out.push(y * width + x);
    }
  }
  return out;
}

describe("maskToPolygons", () => {
  it("outlines a pixel and a rectangle along pixel edges, corners only, clockwise", () => {
    expect(maskToPolygons(pixels(["...", ".#.", "..."]).px, 3)).toEqual([[1, 1, 2, 1, 2, 2, 1, 2]]);
    const { px, width } = pixels(["....", ".##.", ".##.", ".##."]);
    expect(maskToPolygons(px, width)).toEqual([[1, 1, 3, 1, 3, 4, 1, 4]]);
    expect(maskToPolygons([], 4)).toEqual([]);
  });

  it("gives diagonal neighbours separate outlines and fills holes", () => {
    const diag = pixels(["#.", ".#"]);
    const polys = maskToPolygons(diag.px, diag.width);
    expect(polys).toHaveLength(2);
    for (const p of polys) expect(area(p)).toBe(1);
    const ring = pixels(["#####", "#...#", "#.#.#", "#...#", "#####"]);
    const ringPolys = maskToPolygons(ring.px, ring.width);
    // the outer square and the island in the hole; the hole itself cannot be said in COCO
    expect(ringPolys.map(area).sort((a, b) => a - b)).toEqual([1, 25]);
  });

  it("encloses exactly the pixels of any hole-free shape", () => {
    const shapes = [
      [".###..", "##.##.", "#...#.", "##.###", ".#..#."].map((r) => r.replace(/\./g, "#")),
      ["#.#.#", "#####", "..#..", ".###.", "##.##"],
      ["##....", ".##...", "..##..", "...##.", "....##"],
    ];
    for (const rows of shapes) {
      const { px, width } = pixels(rows);
      const polys = maskToPolygons(px, width);
      expect(polys.reduce((a, p) => a + area(p), 0)).toBe(px.length);
      expect(rasterise(polys, width, rows.length)).toEqual(px);
    }
  });
});

describe("maskToRle", () => {
  it("counts runs column by column, starting with background, as pycocotools does", () => {
    const { px, width } = pixels([".#.", ".##"]);
    // columns top to bottom: (0,0) (1,1) (0,1) → 2 background, 2 mask, 1 background, 1 mask
    expect(maskToRle(px, width, 2)).toEqual({ size: [2, 3], counts: [2, 2, 1, 1] });
    expect(maskToRle([0], 2, 2)).toEqual({ size: [2, 2], counts: [0, 1, 3] });
    expect(maskToRle([], 2, 2)).toEqual({ size: [2, 2], counts: [4] });
  });
});
