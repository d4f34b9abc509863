import { compile, InferenceResult, type ModelManifest, parseManifest } from "@kensa/contracts";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { buildFixedOutputModel } from "../src/graph/index.js";
import { checkModelAgainstManifest, connectedRegions, Inferencer } from "../src/index.js";
import { simplifyClosed, traceOutline } from "../src/postprocess/outline.js";

const validResult = compile(InferenceResult);

function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 200, b: 200 } } })
    .png()
    .toBuffer();
}

function segManifest(o: Record<string, unknown> = {}, post: Record<string, unknown> = {}): ModelManifest {
  return parseManifest({
    task: "segmentation",
    input: { name: "images", width: 12, height: 8 },
    preprocessing: { resize: "stretch" },
    labels: ["bg", "scratch", "dent"],
    okLabels: ["bg"],
    postprocessing: { type: "segmentation", ...post },
    thresholds: { default: 0.5 },
    ...o,
  });
}

/**
 * A 6×4 class map (. = bg, s = scratch, d = dent) as [1,3,4,6] logits: the pixel's class
 * gets ln 6 (softmax 6 / (6 + 1 + 1) = 0.75) or ln 2 where marked "s2" (2 / 4 = 0.5), the
 * others 0. With 8-connectivity:
 *   s2 s  .  .  d  .      scratch {(0,0),(1,0),(0,1)}: 3 px, mean (0.5 + 0.75 + 0.75) / 3
 *   s  .  .  .  .  d      dent {(4,0),(5,1)}: corner-touching, 2 px, 0.75
 *   .  .  s  .  .  .      scratch {(2,2),(3,3),(4,3)}: corner-touching, 3 px, 0.75
 *   .  .  .  s  s  .
 * The mask is half the 12×8 input, which is half the 24×16 frame: one mask px = 4×4 frame px.
 */
const GRID = ["s2 s . . d .", "s . . . . d", ". . s . . .", ". . . s s ."].map((r) => r.split(" "));
function maskLogits(): Float32Array {
  const classes = ["bg", "s", "d"];
  const out = new Float32Array(3 * 4 * 6);
  for (const [y, row] of GRID.entries()) {
    for (const [x, cell] of row.entries()) {
      const cls = cell === "." ? 0 : classes.indexOf(cell[0]!);
      out[cls * 24 + y * 6 + x] = Math.log(cell === "s2" ? 2 : 6);
    }
  }
  return out;
}

describe("segmentation", () => {
  const onnx = buildFixedOutputModel({
    width: 12,
    height: 8,
    outputs: [{ name: "masks", dims: [1, 3, 4, 6], values: maskLogits() }],
  });

  it("turns argmax masks into 8-connected regions with areas and boxes in frame px", async () => {
    const manifest = segManifest();
    await checkModelAgainstManifest(onnx, manifest);
    const inf = await Inferencer.create(onnx, manifest, { intraOpThreads: 1 });
    const out = await inf.infer(await png(24, 16));
    await inf.close();
    expect(out.result.task).toBe("segmentation");
    if (out.result.task !== "segmentation") return;
    const regions = out.result.regions;
    // largest first; equal areas by score
    expect(regions.map((r) => [r.label, r.area, r.maskArea, r.box])).toEqual([
      ["scratch", 48, 3, [8, 8, 12, 8]],
      ["scratch", 48, 3, [0, 0, 8, 8]],
      ["dent", 32, 2, [16, 0, 8, 8]],
    ]);
    expect(regions[0]!.score).toBeCloseTo(0.75, 6);
    expect(regions[1]!.score).toBeCloseTo(2 / 3, 6);
    expect(regions[2]!.score).toBeCloseTo(0.75, 6);
    // outlines in frame px, inside their boxes; the dent's two corner-touching pixels make one
    for (const r of regions) {
      const [x, y, w, h] = r.box;
      expect(r.outline!.length).toBeGreaterThanOrEqual(3);
      for (const [px, py] of r.outline!) {
        expect(px).toBeGreaterThanOrEqual(x);
        expect(px).toBeLessThanOrEqual(x + w);
        expect(py).toBeGreaterThanOrEqual(y);
        expect(py).toBeLessThanOrEqual(y + h);
      }
    }
    // the two 4×4 squares of the dent, joined at their shared corner (20, 4)
    expect(regions[2]!.outline).toEqual([
      [16, 0],
      [20, 0],
      [20, 4],
      [24, 4],
      [24, 8],
      [20, 8],
      [20, 4],
      [16, 4],
    ]);
    expect(out.result.finding).toBe(true);
    expect(validResult.check(out.result)).toBe(true);
  });

  it("drops regions under minArea (frame px²) and judges findings per class", async () => {
    const manifest = segManifest({ thresholds: { default: 0.5, perClass: { scratch: 0.8 } } }, { minArea: 40 });
    const inf = await Inferencer.create(onnx, manifest, { intraOpThreads: 1 });
    const r = (await inf.infer(await png(24, 16))).result;
    await inf.close();
    if (r.task !== "segmentation") throw new Error("not a segmentation");
    expect(r.regions.map((x) => x.label)).toEqual(["scratch", "scratch"]);
    expect(r.finding).toBe(false); // scratch needs 0.8; the dent (0.75 ≥ 0.5) was under minArea
  });

  it("binary masks: threshold after sigmoid, letterbox padding never forms a region", async () => {
    // 16×8 frame letterboxed into 8×8: 8×4 content, 2 rows of padding above and below
    const binary = buildFixedOutputModel({
      width: 8,
      height: 8,
      outputs: [{ name: "mask", dims: [1, 1, 8, 8], values: new Float32Array(64).fill(3) }],
    });
    const manifest = segManifest(
      {
        input: { name: "images", width: 8, height: 8 },
        preprocessing: { resize: "letterbox" },
        labels: ["bg", "defect"],
      },
      { activation: "sigmoid" },
    );
    await checkModelAgainstManifest(binary, manifest);
    const inf = await Inferencer.create(binary, manifest, { intraOpThreads: 1 });
    const r = (await inf.infer(await png(16, 8))).result;
    await inf.close();
    if (r.task !== "segmentation") throw new Error("not a segmentation");
    expect(r.regions).toHaveLength(1);
    expect(r.regions[0]).toMatchObject({ label: "defect", area: 128, maskArea: 32, box: [0, 0, 16, 8] });
    expect(r.regions[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
    // the same logits under a threshold above sigmoid(3) = 0.953: nothing
    const high = segManifest(
      { input: { name: "images", width: 8, height: 8 }, labels: ["bg", "defect"] },
      { activation: "sigmoid", maskThreshold: 0.96 },
    );
    const inf2 = await Inferencer.create(binary, high, { intraOpThreads: 1 });
    expect((await inf2.infer(await png(16, 8))).result).toMatchObject({ regions: [], finding: false });
    await inf2.close();
  });

  it("names what differs: class count, softmax on one channel", async () => {
    await expect(checkModelAgainstManifest(onnx, segManifest({ labels: ["bg", "scratch"] }))).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/mask \[1,3,4,6\] has 3 classes but the manifest has 2 labels/),
    });
    const binary = buildFixedOutputModel({
      width: 12,
      height: 8,
      outputs: [{ name: "mask", dims: [1, 1, 4, 6], values: new Float32Array(24) }],
    });
    await expect(checkModelAgainstManifest(binary, segManifest({ labels: ["bg", "defect"] }))).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
      message: expect.stringMatching(/one-channel mask.*"sigmoid" or "none"/),
    });
  });
});

describe("region outlines", () => {
  const grid = (rows: string[]) => {
    const width = rows[0]!.length;
    return { width, height: rows.length, classes: Int32Array.from(rows.join(""), (c) => (c === "#" ? 1 : -1)) };
  };

  it("follows the cracks around a region clockwise, corners only, from its first pixel", () => {
    // an L: the outline has six corners
    const g = grid(["#..", "#..", "##."]);
    expect(traceOutline(g.classes, g.width, g.height, 1, 0)).toEqual([
      [0, 0],
      [1, 0],
      [1, 2],
      [2, 2],
      [2, 3],
      [0, 3],
    ]);
  });

  it("keeps pixels that touch by a corner in one outline, and goes round a one-pixel spike", () => {
    const diagonal = grid(["#.", ".#"]);
    expect(traceOutline(diagonal.classes, 2, 2, 1, 0)).toEqual([
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 1],
      [2, 2],
      [1, 2],
      [1, 1],
      [0, 1],
    ]);
    // a ring: only the outer boundary, the hole is inside
    const ring = grid(["###", "#.#", "###"]);
    expect(traceOutline(ring.classes, 3, 3, 1, 0)).toEqual([
      [0, 0],
      [3, 0],
      [3, 3],
      [0, 3],
    ]);
  });

  it("simplifies staircases to about a pixel and caps the vertex count", () => {
    // a 40-step staircase (a diagonal crack) traced on the grid has 80 corners
    const n = 40;
    const rows = Array.from({ length: n }, (_, y) =>
      Array.from({ length: n }, (_, x) => (x <= y ? "#" : ".")).join(""),
    );
    const g = grid(rows);
    const traced = traceOutline(g.classes, n, n, 1, 0);
    expect(traced.length).toBeGreaterThan(2 * n - 2);
    const simple = simplifyClosed(traced, 0.75, 64);
    expect(simple).toEqual([
      [0, 0],
      [n, n],
      [0, n],
    ]);
    expect(simplifyClosed(traced, 0, 10).length).toBeLessThanOrEqual(10);
  });
});

describe("connectedRegions", () => {
  it("joins pixels that touch by a corner, keeps classes apart", () => {
    // 1 . 2
    // . 1 2
    // 1 . .
    const classes = Int32Array.from([1, -1, 2, -1, 1, 2, 1, -1, -1]);
    const regions = connectedRegions(classes, new Float32Array(9).fill(0.5), 3, 3);
    expect(regions.map((r) => [r.cls, r.pixels, r.minX, r.minY, r.maxX, r.maxY])).toEqual([
      [1, 3, 0, 0, 1, 2],
      [2, 2, 2, 0, 2, 1],
    ]);
  });

  it("handles a mask-sized region without recursion", () => {
    const n = 512 * 512;
    const regions = connectedRegions(new Int32Array(n), new Float32Array(n).fill(1), 512, 512);
    expect(regions).toHaveLength(1);
    expect(regions[0]).toMatchObject({ pixels: n, scoreSum: n });
  });
});
