import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ModelManifest, parseWith, type TrainerMetrics } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { loadModel, preprocess, type TensorData } from "@kensa/vision";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, runTrainer, type SynthSet, share, skipWithoutTorch, synthSet, writeJob } from "./helpers.js";

const skip = skipWithoutTorch();

/**
 * Trains the built-in anchor-free detector on 200 synthetic 96×72 frames, then decodes its
 * exported tensors in TypeScript exactly as trainers/torch/README.md documents them.
 */
describe.skipIf(skip)("built-in trainer: detection", () => {
  let dir: TempDir;
  let set: SynthSet;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const out = () => join(dir.path, "out");
  const input = { width: 96, height: 72 };

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-det-");
    set = await synthSet({
      dir: join(dir.path, "data"),
      count: 200,
      synth: { seed: 13, ...input, defectRate: 0.6 },
      task: "detection",
    });
    const job = makeJob("detection", set.samples, out(), input, { epochs: 20, quantize: true });
    await writeJob(join(dir.path, "job.json"), job);
    run = await runTrainer(join(dir.path, "job.json"));
  }, 240_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("trains: epochs arrive, the loss falls, outputs are written", () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const losses = run.lines.flatMap((l) => (l.type === "epoch" ? [l.loss] : []));
    expect(losses).toHaveLength(20);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.6);
  });

  it("puts the heatmap peak inside the true box on most defective test frames", async () => {
    const manifest = parseWith(ModelManifest, JSON.parse(await readFile(join(out(), "manifest.json"), "utf8")));
    expect(manifest.postprocessing).toMatchObject({ type: "detection", layout: "yolov8", output: "predictions" });
    const metrics = JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")) as TrainerMetrics;
    const fp32 = await measure(await readFile(join(out(), "model.onnx")), manifest);
    const int8 = await measure(await readFile(join(out(), "model.int8.onnx")), manifest);
    console.log(
      `detection: peak inside the true box on ${fp32.hit.toFixed(3)} of defective test frames (int8 ${int8.hit.toFixed(3)}), ` +
        `box IoU ≥ 0.5 on ${fp32.iou50.toFixed(3)} (int8 ${int8.iou50.toFixed(3)}), ` +
        `mean top score ${fp32.okScore.toFixed(2)} on OK frames vs ${fp32.defectScore.toFixed(2)} on defective; ` +
        `torch test mAP50 ${metrics.test?.primary.toFixed(3)} (int8 ${metrics.int8?.test?.primary.toFixed(3)}); ` +
        `${metrics.elapsedSec.toFixed(1)} s`,
    );
    expect(fp32.hit).toBeGreaterThan(0.8);
    expect(fp32.iou50).toBeGreaterThan(0.5);
    expect(fp32.okScore).toBeLessThan(fp32.defectScore);
    expect(int8.hit).toBeGreaterThan(0.7);
  });

  /**
   * Per test frame: the best column of `predictions` (YOLOv8 layout: cx, cy, w, h, class scores)
   * and, independently, the arg-max cell of `heatmap` refined by `offset`.
   */
  async function measure(bytes: Uint8Array, manifest: ModelManifest) {
    const model = await loadModel(bytes, { intraOpThreads: 1 });
    const hits: boolean[] = [];
    const ious: boolean[] = [];
    const okScores: number[] = [];
    const defectScores: number[] = [];
    try {
      for (const s of set.samples.filter((x) => x.split === "test")) {
        const pre = await preprocess(await readFile(s.path), manifest.input, manifest.preprocessing);
        const o = await model.run({ image: { data: pre.data, dims: pre.dims } });
        const best = bestPrediction(o.predictions!);
        const peak = heatmapPeak(o.heatmap!, o.offset!, input);
        // frames are rendered at the input size, so input px are frame px here
        const truth = set.truth.get(s.id)!.defects[0];
        if (!truth) {
          okScores.push(best.score);
          continue;
        }
        defectScores.push(best.score);
        const [x, y, w, h] = truth.box;
        hits.push(peak.x >= x && peak.x <= x + w && peak.y >= y && peak.y <= y + h);
        ious.push(iou([best.cx - best.w / 2, best.cy - best.h / 2, best.w, best.h], truth.box) >= 0.5);
      }
    } finally {
      await model.release();
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
    return { hit: share(hits), iou50: share(ious), okScore: mean(okScores), defectScore: mean(defectScores) };
  }
});

function bestPrediction(p: TensorData): { score: number; cx: number; cy: number; w: number; h: number } {
  const [, rows, n] = p.dims as [number, number, number];
  let best = { score: -1, cx: 0, cy: 0, w: 0, h: 0 };
  for (let g = 0; g < n; g++) {
    for (let r = 4; r < rows; r++) {
      const score = p.data[r * n + g]!;
      if (score > best.score) {
        best = { score, cx: p.data[g]!, cy: p.data[n + g]!, w: p.data[2 * n + g]!, h: p.data[3 * n + g]! };
      }
    }
  }
  return best;
}

/** The documented decode: cell (i, j) of the strongest class heatmap value, plus its offset, times the cell size. */
function heatmapPeak(heat: TensorData, offset: TensorData, input: { width: number; height: number }) {
  const [, k, gh, gw] = heat.dims as [number, number, number, number];
  let best = 0;
  for (let v = 1; v < k * gh * gw; v++) if (heat.data[v]! > heat.data[best]!) best = v;
  const cell = best % (gh * gw);
  const i = Math.floor(cell / gw);
  const j = cell % gw;
  return {
    x: (j + offset.data[cell]!) * (input.width / gw),
    y: (i + offset.data[gh * gw + cell]!) * (input.height / gh),
  };
}

function iou(a: readonly number[], b: readonly number[]): number {
  const x0 = Math.max(a[0]!, b[0]!);
  const y0 = Math.max(a[1]!, b[1]!);
  const x1 = Math.min(a[0]! + a[2]!, b[0]! + b[2]!);
  const y1 = Math.min(a[1]! + a[3]!, b[1]! + b[3]!);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a[2]! * a[3]! + b[2]! * b[3]! - inter);
}
