import { createHash } from "node:crypto";
import { type LabelContent, parseManifest } from "@kensa/contracts";
import { GraphBuilder } from "@kensa/vision/graph";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { BlobStore } from "../src/blobstore/blob-store.js";
import { segmentationEvaluator } from "../src/registry/evaluation/evaluators/segmentation-evaluator.js";
import type { EvalContext, EvalItem } from "../src/registry/evaluation/task-evaluator.js";

/**
 * A segmentation "model" that calls dark pixels cracks: logits [pixel, 1 − pixel] for
 * background and crack, 64×64 input, any batch.
 */
function darkIsCrack(): Uint8Array {
  const g = new GraphBuilder("kensa-test-dark-crack");
  const image = g.input("image", ["N", 1, 64, 64]);
  const crack = g.node("Sub", [g.initializer("one", [], [1]), image]);
  g.output(g.node("Concat", [image, crack], { axis: { int: 1 } }, "mask"), ["N", 2, 64, 64]);
  return g.toBytes();
}

const manifest = (tiled: boolean) =>
  parseManifest({
    task: "segmentation",
    input: { name: "image", width: 64, height: 64, channels: 1 },
    preprocessing: {},
    labels: ["background", "crack"],
    okLabels: ["background"],
    postprocessing: { type: "segmentation", output: "mask", activation: "none" },
    thresholds: { default: 0.5 },
    ...(tiled ? { tiling: { width: 64, height: 64, overlap: 16 } } : {}),
  });

/** 480×360 light frames, each with one dark 4×4 crack (labelled by its box) */
async function frames(n: number) {
  const blobs = new Map<string, Uint8Array>();
  const items: EvalItem[] = [];
  for (let i = 0; i < n; i++) {
    const [w, h, x0, y0] = [480, 360, 40 + i * 97, 30 + i * 71];
    const px = new Uint8Array(w * h).fill(230);
    for (let y = y0; y < y0 + 4; y++) for (let x = x0; x < x0 + 4; x++) px[y * w + x] = 0;
    const png = await sharp(px, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toBuffer();
    const sha256 = createHash("sha256").update(png).digest("hex");
    blobs.set(sha256, png);
    const content: LabelContent = {
      classes: ["crack"],
      objects: [{ label: "crack", box: { x: x0, y: y0, w: 4, h: 4 } }],
      anomaly: null,
    };
    items.push({ sampleId: `smp_${i}`, image: { sha256, width: w, height: h }, label: { content } });
  }
  return { items, blobs: { get: async (sha: string) => blobs.get(sha) ?? null } as unknown as BlobStore };
}

describe("the hub's evaluation honours a manifest's tiling", () => {
  it("scores a tiled segmentation model on its stitched map: small cracks found at native resolution", async () => {
    const set = await frames(3);
    const ctx = (tiled: boolean): EvalContext => ({
      manifest: manifest(tiled),
      items: set.items,
      okLabels: ["background"],
      blobs: set.blobs,
      threads: 1,
    });
    const tiled = await segmentationEvaluator.evaluate(darkIsCrack(), ctx(true));
    const whole = await segmentationEvaluator.evaluate(darkIsCrack(), ctx(false));
    expect(tiled.samples).toBe(3);
    // every crack pixel found, nothing else: the map covers the frame 1:1
    expect(tiled.segmentation!.perClass.crack!.iou).toBeCloseTo(1, 6);
    // shrunk 7.5×, a 4 px crack is half a model pixel of grey: called background
    expect(whole.segmentation!.perClass.crack!.iou).toBeLessThan(0.1);
  });
});
