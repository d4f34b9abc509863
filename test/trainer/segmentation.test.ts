import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ModelManifest, parseWith, type TrainerMetrics } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { loadModel, preprocess } from "@kensa/vision";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, runTrainer, type SynthSet, skipWithoutTorch, synthSet, writeJob } from "./helpers.js";

const skip = skipWithoutTorch();

/**
 * Trains the built-in U-Net on 160 synthetic 96×72 frames with exact defect masks, then measures
 * in TypeScript, with ONNX Runtime, how well its masks cover the defects of unseen frames.
 */
describe.skipIf(skip)("built-in trainer: segmentation", () => {
  let dir: TempDir;
  let set: SynthSet;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const out = () => join(dir.path, "out");

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-seg-");
    set = await synthSet({
      dir: join(dir.path, "data"),
      count: 160,
      synth: { seed: 12, width: 96, height: 72, defectRate: 0.6 },
      task: "segmentation",
    });
    const job = makeJob("segmentation", set.samples, out(), { width: 96, height: 72 }, { epochs: 8, quantize: true });
    await writeJob(join(dir.path, "job.json"), job);
    run = await runTrainer(join(dir.path, "job.json"));
  }, 120_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("trains: epochs arrive, the loss falls, outputs are written", () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const epochs = run.lines.filter((l) => l.type === "epoch");
    expect(epochs).toHaveLength(8);
    const first = epochs[0]!;
    const last = epochs.at(-1)!;
    expect(first.type === "epoch" && last.type === "epoch" && last.loss < first.loss).toBe(true);
  });

  it("exports masks that ONNX Runtime computes and that overlap the true defects (IoU)", async () => {
    const manifest = parseWith(ModelManifest, JSON.parse(await readFile(join(out(), "manifest.json"), "utf8")));
    expect(manifest.postprocessing).toMatchObject({ type: "segmentation", activation: "none", output: "mask" });
    expect(manifest.labels).toEqual(["background", "spot", "scratch", "stain"]);
    const metrics = JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")) as TrainerMetrics;

    const fp32 = await foregroundIoU(await readFile(join(out(), "model.onnx")), manifest);
    const int8 = await foregroundIoU(await readFile(join(out(), "model.int8.onnx")), manifest);
    console.log(
      `segmentation: test defect-vs-background IoU ${fp32.toFixed(3)} fp32, ${int8.toFixed(3)} int8 in ONNX Runtime; ` +
        `torch test meanIoU (per type) ${metrics.test?.primary.toFixed(3)}, int8 ${metrics.int8?.test?.primary.toFixed(3)}; ` +
        `${metrics.elapsedSec.toFixed(1)} s`,
    );
    // defects are a few pixels across at 96×72: half of the defect pixels overlapping is a real model
    expect(fp32).toBeGreaterThan(0.4);
    expect(int8).toBeGreaterThan(0.3);
  });

  /** Intersection over union of "any defect class" vs background, pooled over the test split. */
  async function foregroundIoU(bytes: Uint8Array, manifest: ModelManifest): Promise<number> {
    const model = await loadModel(bytes, { intraOpThreads: 1 });
    let inter = 0;
    let union = 0;
    try {
      for (const s of set.samples.filter((x) => x.split === "test")) {
        const pre = await preprocess(await readFile(s.path), manifest.input, manifest.preprocessing);
        const outT = (await model.run({ image: { data: pre.data, dims: pre.dims } })).mask!;
        const [, k, h, w] = outT.dims as [number, number, number, number];
        const truth = await sharp(s.maskPath!).extractChannel(0).raw().toBuffer();
        expect(truth.length).toBe(h * w);
        for (let p = 0; p < h * w; p++) {
          // argmax over classes: foreground when any defect class beats the background
          let best = 0;
          for (let c = 1; c < k; c++) if (outT.data[c * h * w + p]! > outT.data[best * h * w + p]!) best = c;
          const predicted = best > 0;
          const actual = truth[p]! > 0;
          if (predicted && actual) inter++;
          if (predicted || actual) union++;
        }
      }
    } finally {
      await model.release();
    }
    return union ? inter / union : 0;
  }
});
