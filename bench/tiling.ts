/**
 * Tiling: small defects on large frames (docs/training.md, "Tiling").
 *
 * 1. Accuracy: the built-in detector trained twice at the same 128×96 input on 768×576 frames
 *    with dark spots 7 px across — on whole frames, and on 128×96 tiles at native resolution —
 *    then run through @kensa/vision's Inferencer (the agent's and the hub's path) on the test
 *    frames: share of spots found and false detections per frame.
 * 2. Latency on 1080p: a U-Net 16-32-64-128 at 256² on 1920×1080 JPEGs, whole frame against
 *    256×256 tiles with 32 px overlap (45 tiles, batched), p50/p95 per frame.
 * `npm run bench -- tiling` (opt-in: it trains two models, minutes). Numbers are reported, never asserted.
 */
import { mkdir, readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ModelManifest, parseWith } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { Inferencer, percentile, tileLayout } from "@kensa/vision";
import { buildUNet } from "@kensa/vision/graph";
import { makeJob, runTrainer, skipWithoutTorch, writeJob } from "../test/trainer/helpers.js";
import { spotFrames, spotRecall } from "../test/trainer/tiling-frames.js";
import { type Row, rowsTable, table } from "./report.js";
import { cameraFrames } from "./vision-speed.js";

const round = (x: number) => Math.round(x * 100) / 100;
const TILE_1080P = { width: 256, height: 256, overlap: 32 };

export async function tilingSection(): Promise<{ markdown: string; data: unknown }> {
  const latency = await latencyRows();
  const accuracy = skipWithoutTorch() ? null : await accuracyRows();
  const parts = [rowsTable(latency)];
  if (accuracy) {
    parts.push(
      table(
        ["model (128×96 input)", "spots found", "false detections / frame", "ms / 768×576 frame (p50)", "training s"],
        accuracy.map((a) => [a.name, a.recall, a.falsePerFrame, a.msP50, a.trainSec]),
      ),
    );
  } else parts.push("Accuracy: skipped (no PyTorch).");
  return { markdown: parts.join("\n\n"), data: { latency, accuracy } };
}

async function latencyRows(): Promise<Row[]> {
  const frames = await cameraFrames(3);
  const unet = buildUNet({ channels: [16, 32, 64, 128] });
  const tiles = tileLayout(1920, 1080, TILE_1080P).length;
  const rows: Row[] = [];
  for (const [name, manifest] of [
    ["U-Net 256² on a 1920×1080 JPEG, whole frame", unet.manifest],
    [`U-Net 256² on a 1920×1080 JPEG, ${tiles} tiles of 256² (overlap 32)`, { ...unet.manifest, tiling: TILE_1080P }],
  ] as const) {
    const inf = await Inferencer.create(unet.onnx, manifest as ModelManifest);
    await inf.warmup();
    const ms: number[] = [];
    for (const f of frames) ms.push((await inf.infer(f)).latencyMs.total);
    await inf.close();
    rows.push({
      name,
      unit: "ms",
      p50: round(percentile(ms, 50)),
      p95: round(percentile(ms, 95)),
      n: ms.length,
      notes: `decode, ${manifest === unet.manifest ? "resize" : "cut into tiles"}, inference${manifest === unet.manifest ? "" : " (8 tiles a batch), stitching"}, regions; random weights; ${availableParallelism()} threads`,
    });
  }
  return rows;
}

interface AccuracyRow {
  name: string;
  recall: number;
  falsePerFrame: number;
  msP50: number;
  trainSec: number;
}

async function accuracyRows(): Promise<AccuracyRow[]> {
  const dir = await tempDir("kensa-bench-tiling-");
  try {
    await mkdir(join(dir.path, "data"));
    const data = await spotFrames({
      dir: join(dir.path, "data"),
      count: 50,
      width: 768,
      height: 576,
      radius: 3,
      seed: 5,
    });
    const out: AccuracyRow[] = [];
    for (const tiled of [false, true]) {
      const kind = tiled ? "tiled" : "whole";
      const noRotate = { hflip: true, vflip: true, rotate: false, brightnessContrast: true, noise: true, crop: true };
      const job = makeJob(
        "detection",
        data.samples,
        join(dir.path, kind),
        { width: 128, height: 96 },
        { epochs: 15, augment: noRotate },
      );
      job.input.channels = 1;
      job.threads = 2;
      if (tiled) job.tiling = { width: 128, height: 96, overlap: 16 };
      await writeJob(join(dir.path, `${kind}.json`), job);
      const t0 = performance.now();
      const run = await runTrainer(join(dir.path, `${kind}.json`));
      if (run.code !== 0) throw new Error(`the ${kind} training failed (${run.code}): ${run.stderr.slice(-500)}`);
      const trainSec = (performance.now() - t0) / 1000;
      const manifest = parseWith(
        ModelManifest,
        JSON.parse(await readFile(join(dir.path, kind, "manifest.json"), "utf8")),
      );
      const r = await spotRecall(
        await readFile(join(dir.path, kind, "model.onnx")),
        manifest,
        data.samples,
        data.truth,
        2,
      );
      out.push({
        name: tiled ? "tiled: 128×96 tiles at native resolution (49 per frame)" : "whole frame shrunk 6× to 128×96",
        recall: round(r.recall),
        falsePerFrame: round(r.falsePerFrame),
        msP50: round(percentile(r.ms, 50)),
        trainSec: Math.round(trainSec),
      });
    }
    return out;
  } finally {
    await dir.remove();
  }
}
