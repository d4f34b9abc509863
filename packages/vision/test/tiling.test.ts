import { type AnomalyResult, type ModelManifest, parseManifest } from "@kensa/contracts";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../src/graph/index.js";
import {
  Inferencer,
  mergeTileDetections,
  stitchMaps,
  type TileDetection,
  tileDetectionsToFrame,
  tileLayout,
  tileStarts,
} from "../src/index.js";

describe("tile layout", () => {
  it("covers a side with the fewest tiles that overlap by at least the overlap, flush with both edges", () => {
    for (const [size, tile, overlap] of [
      [1920, 256, 32],
      [1080, 256, 32],
      [1000, 256, 0],
      [257, 256, 16],
      [700, 200, 64],
    ] as const) {
      const xs = tileStarts(size, tile, overlap);
      expect(xs[0]).toBe(0);
      expect(xs.at(-1)! + tile).toBe(size);
      for (let i = 1; i < xs.length; i++) {
        expect(xs[i - 1]! + tile - xs[i]!).toBeGreaterThanOrEqual(overlap);
        expect(xs[i]).toBeGreaterThan(xs[i - 1]!);
      }
      // one tile fewer could not keep the overlap
      const n = xs.length - 1;
      if (n >= 2) expect((size - tile) / (n - 1)).toBeGreaterThan(tile - overlap);
    }
    expect(tileStarts(1920, 256, 32)).toHaveLength(9);
    expect(tileStarts(256, 256, 32)).toEqual([0]);
  });

  it("gives a frame smaller than a tile one tile, cut to the frame", () => {
    expect(tileLayout(100, 60, { width: 128, height: 96, overlap: 16 })).toEqual([
      { x: 0, y: 0, width: 100, height: 60 },
    ]);
    const tiles = tileLayout(300, 60, { width: 128, height: 96, overlap: 16 });
    expect(tiles.map((t) => [t.x, t.width, t.height])).toEqual([
      [0, 128, 60],
      [86, 128, 60],
      [172, 128, 60],
    ]);
  });
});

const det = (box: [number, number, number, number], score: number, cut = false, label = "spot"): TileDetection => ({
  label,
  score,
  box,
  cut,
});

describe("merging detections across tiles", () => {
  it("keeps one of an object seen whole by two overlapping tiles", () => {
    const out = mergeTileDetections([det([100, 100, 10, 10], 0.8), det([100.5, 100, 10, 10], 0.9)], 0.45, 100);
    expect(out).toEqual([{ label: "spot", score: 0.9, box: [100.5, 100, 10, 10] }]);
  });

  it("fuses the pieces of an object a seam cut into the union of both", () => {
    // tile A ends at x = 128 and saw the left part; tile B saw all of it
    const a = tileDetectionsToFrame(
      [{ label: "spot", score: 0.6, box: [120, 40, 8, 6] }],
      { x: 0, y: 0, width: 128, height: 96 },
      { width: 300, height: 96 },
    );
    expect(a[0]!.cut).toBe(true);
    const b = tileDetectionsToFrame(
      [{ label: "spot", score: 0.7, box: [34, 40, 16, 6] }],
      { x: 86, y: 0, width: 128, height: 96 },
      { width: 300, height: 96 },
    );
    expect(b[0]!.cut).toBe(false);
    expect(b[0]!.box).toEqual([120, 40, 16, 6]);
    const out = mergeTileDetections([...a, ...b], 0.45, 100);
    expect(out).toEqual([{ label: "spot", score: 0.7, box: [120, 40, 16, 6] }]);
  });

  it("joins the two halves of an object larger than the overlap", () => {
    const out = mergeTileDetections([det([100, 10, 28, 8], 0.6, true), det([110, 10, 40, 8], 0.7, true)], 0.45, 100);
    expect(out).toEqual([{ label: "spot", score: 0.7, box: [100, 10, 50, 8] }]);
  });

  it("keeps distinct objects, other labels, frame-edge boxes apart, and at most max", () => {
    const out = mergeTileDetections(
      [
        det([0, 0, 10, 10], 0.9),
        det([2, 2, 6, 6], 0.5),
        det([0, 0, 10, 10], 0.8, false, "scratch"),
        det([50, 50, 5, 5], 0.4),
      ],
      0.45,
      3,
    );
    expect(out.map((d) => [d.label, d.score])).toEqual([
      ["spot", 0.9],
      ["scratch", 0.8],
      ["spot", 0.5],
    ]);
    // a box at the frame's own edge is not cut
    const edge = tileDetectionsToFrame(
      [{ label: "spot", score: 1, box: [0, 0, 5, 5] }],
      { x: 0, y: 0, width: 64, height: 64 },
      { width: 64, height: 64 },
    );
    expect(edge[0]!.cut).toBe(false);
  });
});

describe("stitching maps", () => {
  const tiles = [
    { x: 0, y: 0, width: 4, height: 2 },
    { x: 2, y: 0, width: 4, height: 2 },
  ];
  const identity = { scaleX: 1, scaleY: 1, padX: 0, padY: 0, width: 4, height: 2 };
  const maps = [
    { data: new Float32Array(8).fill(0.2), dims: [1, 1, 2, 4] },
    { data: new Float32Array(8).fill(0.8), dims: [1, 1, 2, 4] },
  ];
  it("averages class scores and maxes anomaly scores where tiles overlap, and nothing else", () => {
    const mean = stitchMaps(maps, tiles, identity, { width: 4, height: 2 }, { width: 6, height: 2 }, "mean");
    expect(mean.map.dims).toEqual([1, 1, 2, 6]);
    expect([...mean.map.data.subarray(0, 6)].map((v) => +v.toFixed(3))).toEqual([0.2, 0.2, 0.5, 0.5, 0.8, 0.8]);
    const max = stitchMaps(maps, tiles, identity, { width: 4, height: 2 }, { width: 6, height: 2 }, "max");
    expect([...max.map.data.subarray(0, 6)].map((v) => +v.toFixed(3))).toEqual([0.2, 0.2, 0.8, 0.8, 0.8, 0.8]);
    expect(max.transform).toMatchObject({ scaleX: 1, width: 6, height: 2 });
  });

  it("maps a half-resolution map of 2× downscaled tiles back to the frame", () => {
    // tiles of 8×4 frame px → input 4×2 (scale 0.5) → map 2×1 (stride 2): one map px per 4×4 frame px
    const m = [{ data: Float32Array.from([1, 2]), dims: [1, 1, 1, 2] }];
    const t = { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0, width: 8, height: 4 };
    const st = stitchMaps(
      m,
      [{ x: 0, y: 0, width: 8, height: 4 }],
      t,
      { width: 4, height: 2 },
      { width: 8, height: 4 },
      "mean",
    );
    expect(st.map.dims).toEqual([1, 1, 1, 2]);
    expect([...st.map.data]).toEqual([1, 2]);
    expect([st.inputWidth, st.inputHeight]).toEqual([4, 2]);
  });
});

/** An anomaly "model" that scores darkness: map = 1 − pixel (0..1), batch dimension `batch`. */
function darknessModel(size: number, batch: number | string): Uint8Array {
  const g = new GraphBuilder("kensa-test-darkness");
  const image = g.input("image", [batch, 1, size, size]);
  g.output(g.node("Sub", [g.initializer("one", [], [1]), image], {}, "map"), [batch, 1, size, size]);
  return g.toBytes();
}

function darknessManifest(size: number, tiling?: { width: number; height: number; overlap: number }): ModelManifest {
  return parseManifest({
    task: "anomaly",
    input: { name: "image", width: size, height: size, channels: 1 },
    preprocessing: {},
    labels: ["ok", "anomaly"],
    okLabels: ["ok"],
    postprocessing: { type: "anomaly", output: "map" },
    thresholds: { default: 0.5 },
    ...(tiling ? { tiling } : {}),
  });
}

/** A light grey frame with dark squares (x, y, side). */
async function frame(w: number, h: number, spots: Array<[number, number, number]>): Promise<Uint8Array> {
  const px = new Uint8Array(w * h).fill(230);
  for (const [x0, y0, s] of spots)
    for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) px[y * w + x] = 10;
  return sharp(px, { raw: { width: w, height: h, channels: 1 } })
    .png()
    .toBuffer();
}

async function infer(onnx: Uint8Array, m: ModelManifest, image: Uint8Array): Promise<AnomalyResult> {
  const inf = await Inferencer.create(onnx, m, { intraOpThreads: 1 });
  try {
    await inf.warmup();
    const r = await inf.infer(image);
    return r.result as AnomalyResult;
  } finally {
    await inf.close();
  }
}

describe("tiled inference through the Inferencer", () => {
  const tiling = { width: 64, height: 64, overlap: 16 };

  it("finds a 3-px spot on a seam at native resolution, where the whole frame resized to the input loses it", async () => {
    // 400×300 frame: tiles start at x 0, 48, … ; the spot straddles the seam at x = 64
    const image = await frame(400, 300, [[63, 150, 3]]);
    for (const batch of ["N", 1] as const) {
      const r = await infer(darknessModel(64, batch), darknessManifest(64, tiling), image);
      expect(r.score).toBeGreaterThan(0.9);
      expect(r.regions).toHaveLength(1);
      expect(r.regions[0]!.box).toEqual([63, 150, 3, 3]);
      expect(r.regions[0]!.area).toBe(9);
    }
    const whole = await infer(darknessModel(64, "N"), darknessManifest(64), image);
    expect(whole.score).toBeLessThan(0.5);
    expect(whole.finding).toBe(false);
  });

  it("runs a frame smaller than one tile, and never scores the padding past it", async () => {
    // the grey padding (114) scores 1 − 114/255 = 0.55, over the 0.5 threshold: it must not count
    const r = await infer(darknessModel(64, "N"), darknessManifest(64, tiling), await frame(40, 30, []));
    expect(r.score).toBeLessThan(0.2);
    expect(r.regions).toEqual([]);
    const spot = await infer(darknessModel(64, "N"), darknessManifest(64, tiling), await frame(40, 30, [[37, 27, 3]]));
    expect(spot.regions.map((x) => x.box)).toEqual([[37, 27, 3, 3]]);
  });

  it("downscales tiles larger than the input with the manifest's resize, mapping regions back to frame px", async () => {
    const r = await infer(darknessModel(32, "N"), darknessManifest(32, tiling), await frame(200, 150, [[100, 60, 8]]));
    expect(r.regions).toHaveLength(1);
    // Lanczos blurs the square's edges by a px of the input (2 frame px) either way
    const [x, y, w, h] = r.regions[0]!.box;
    for (const [got, want] of [
      [x, 100],
      [y, 60],
      [x + w, 108],
      [y + h, 68],
    ] as const)
      expect(Math.abs(got - want)).toBeLessThanOrEqual(2);
  });
});

describe("tiling in the manifest", () => {
  const base = {
    task: "anomaly",
    input: { name: "image", width: 64, height: 64 },
    preprocessing: {},
    labels: ["ok", "anomaly"],
    okLabels: ["ok"],
    postprocessing: { type: "anomaly" },
    thresholds: { default: 0.5 },
  };
  it("refuses tiles that would not advance, tiny tiles and tiling for classification", () => {
    const bad = (o: Record<string, unknown>) => {
      try {
        parseManifest({ ...base, ...o });
      } catch (err) {
        return err as { code: string; message: string };
      }
      throw new Error("accepted");
    };
    expect(bad({ tiling: { width: 64, height: 64, overlap: 32 } })).toMatchObject({
      code: "KENSA_ERR_MANIFEST_INVALID",
      message: expect.stringContaining("/tiling/overlap"),
    });
    expect(bad({ tiling: { width: 8, height: 64 } }).message).toContain("/tiling/width");
    expect(bad({ tiling: { width: 64, height: 64, scale: 2 } }).message).toContain("/tiling/scale");
    const cls = bad({
      task: "classification",
      labels: ["ok", "ng"],
      postprocessing: { type: "classification" },
      tiling: { width: 64, height: 64 },
    });
    expect(cls.message).toContain("/tiling: classification has no per-tile result");
    expect(parseManifest({ ...base, tiling: { width: 96, height: 72 } }).tiling).toEqual({
      width: 96,
      height: 72,
      overlap: 32,
    });
  });
});
