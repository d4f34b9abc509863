import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ModelManifest, parseWith } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, runTrainer, skipWithoutTorch, writeJob } from "./helpers.js";
import { spotFrames, spotRecall } from "./tiling-frames.js";

const skip = skipWithoutTorch();
const input = { width: 128, height: 96 };
const tiling = { width: 128, height: 96, overlap: 16 };

/**
 * Tiled against whole-frame training at the same 128×96 input, on 768×576 frames with dark
 * spots 7 px across: shrunk 6×, a spot is about a pixel; in 128×96 tiles at native resolution
 * it is 7. Both models are exported, loaded with their manifests and run through @kensa/vision's
 * Inferencer (the agent's and the hub's path) on the test frames.
 */
describe.skipIf(skip)("built-in trainer: tiled detection of small defects", () => {
  let dir: TempDir;
  let data: Awaited<ReturnType<typeof spotFrames>>;
  const runs: Record<"tiled" | "whole", Awaited<ReturnType<typeof runTrainer>>> = {} as never;

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-tiling-");
    await mkdir(join(dir.path, "data"));
    data = await spotFrames({ dir: join(dir.path, "data"), count: 50, width: 768, height: 576, radius: 3, seed: 5 });
    for (const kind of ["tiled", "whole"] as const) {
      const job = makeJob("detection", data.samples, join(dir.path, kind), input, { epochs: 15, augment: noRotate });
      job.input.channels = 1;
      if (kind === "tiled") job.tiling = tiling;
      await writeJob(join(dir.path, `${kind}.json`), job);
      runs[kind] = await runTrainer(join(dir.path, `${kind}.json`));
    }
  }, 900_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("writes the tiling into the manifest and finds spots the whole-frame model misses", async () => {
    expect(runs.tiled.code, runs.tiled.stderr.slice(-2000)).toBe(0);
    expect(runs.whole.code, runs.whole.stderr.slice(-2000)).toBe(0);
    const tiled = await load("tiled");
    const whole = await load("whole");
    expect(tiled.manifest.tiling).toEqual(tiling);
    expect(whole.manifest.tiling).toBeUndefined();
    const t = await recall(tiled.onnx, tiled.manifest);
    const w = await recall(whole.onnx, whole.manifest);
    // the same tiled model fed whole frames: the tiling in its manifest is what finds the spots
    const { tiling: _t, ...untiled } = tiled.manifest;
    const u = await recall(tiled.onnx, untiled);
    console.log(
      `tiling: recall ${t.recall.toFixed(2)} (${t.falsePerFrame.toFixed(2)} false/frame, ${t.ms.toFixed(0)} ms/frame) tiled; ` +
        `${w.recall.toFixed(2)} (${w.falsePerFrame.toFixed(2)} false/frame, ${w.ms.toFixed(0)} ms/frame) whole-frame model; ` +
        `${u.recall.toFixed(2)} tiled model without its tiling`,
    );
    expect(t.recall).toBeGreaterThanOrEqual(0.6);
    expect(t.recall - w.recall).toBeGreaterThanOrEqual(0.4);
    expect(t.recall - u.recall).toBeGreaterThanOrEqual(0.4);
    expect(t.falsePerFrame).toBeLessThan(1);
  });

  async function load(kind: string) {
    const out = join(dir.path, kind);
    const manifest = parseWith(ModelManifest, JSON.parse(await readFile(join(out, "manifest.json"), "utf8")));
    return { manifest, onnx: await readFile(join(out, "model.onnx")) };
  }

  const recall = async (onnx: Uint8Array, manifest: ModelManifest) => {
    const r = await spotRecall(onnx, manifest, data.samples, data.truth);
    return { ...r, ms: r.ms.reduce((x, y) => x + y, 0) / r.ms.length };
  };
});

const noRotate = { hflip: true, vflip: true, rotate: false, brightnessContrast: true, noise: true, crop: true };
