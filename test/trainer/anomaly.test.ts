import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type AnomalyResult, ModelManifest, parseWith, TrainerMetrics, type TrainerProgress } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, runTrainer, type SynthSet, skipWithoutTorch, synthSet, writeJob } from "./helpers.js";

/** Area under the ROC curve (ties count half). */
function auroc(scores: number[], truth: boolean[]): number {
  let pairs = 0;
  let wins = 0;
  scores.forEach((p, i) => {
    if (!truth[i]) return;
    scores.forEach((n, j) => {
      if (truth[j]) return;
      pairs++;
      wins += p > n ? 1 : p === n ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

/**
 * The anomaly task learns from OK frames only: 240 synthetic frames, half with spots, scratches
 * or stains; training sees none of the defective ones, its own synthesized damage instead. The
 * exported map, run in TypeScript through the manifest the trainer wrote, must rank the
 * defective test frames above the good ones, and the image threshold comes from the validation
 * split, not 0.5.
 */
describe.skipIf(skipWithoutTorch())("built-in trainer: anomaly from OK images", () => {
  let dir: TempDir;
  let set: SynthSet;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const out = () => join(dir.path, "out");

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-anomaly-");
    set = await synthSet({
      dir: join(dir.path, "data"),
      count: 240,
      synth: { seed: 5, width: 128, height: 96, defectRate: 0.5 },
      task: "classification",
    });
    const samples = set.samples.map((s) => ({ ...s, classes: [s.classes[0] === "defect" ? "anomaly" : "ok"] }));
    const job = {
      ...makeJob("anomaly", samples, out(), { width: 64, height: 48 }, { epochs: 14 }),
      labels: ["ok", "anomaly"],
      okLabels: ["ok"],
    };
    await writeJob(join(dir.path, "job.json"), job);
    run = await runTrainer(join(dir.path, "job.json"));
  }, 240_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("trains on the OK images only and reports AUROC on the real validation labels", async () => {
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const epochs = run.lines.filter((l): l is Extract<TrainerProgress, { type: "epoch" }> => l.type === "epoch");
    expect(epochs.length).toBeGreaterThan(3);
    expect(epochs.at(-1)!.primaryMetric).toBe("auroc");
    const metrics = parseWith(TrainerMetrics, JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")));
    expect(metrics.val.values.syntheticAuroc).toBeGreaterThan(0.8);
    expect(metrics.val.values.auroc).toBeGreaterThan(0.75);
    const okTrain = set.samples.filter((s) => s.split === "train" && s.classes[0] === "ok").length;
    expect(run.stderr + JSON.stringify(run.lines)).toContain(`${okTrain} OK training images`);
  });

  it("exports a map the agent's code scores: defective test frames rank above good ones", async () => {
    const manifest = parseWith(ModelManifest, JSON.parse(await readFile(join(out(), "manifest.json"), "utf8")));
    expect(manifest.task).toBe("anomaly");
    expect(manifest.postprocessing).toMatchObject({ type: "anomaly", scoreReduce: "max" });
    // calibrated on the validation split
    expect(manifest.thresholds.default).not.toBe(0.5);
    const model = await readFile(join(out(), "model.onnx"));
    const inf = await Inferencer.create(model, manifest, { intraOpThreads: 1, spinning: false });
    const scores: number[] = [];
    const truth: boolean[] = [];
    try {
      for (const s of set.samples.filter((x) => x.split === "test")) {
        const r = await inf.run(await inf.prepare(await sharp(s.path).toBuffer()));
        const result = r.result as AnomalyResult;
        expect(result.task).toBe("anomaly");
        scores.push(result.score);
        truth.push(s.classes[0] === "defect");
      }
    } finally {
      await inf.close();
    }
    expect(truth.filter(Boolean).length).toBeGreaterThan(5);
    expect(auroc(scores, truth)).toBeGreaterThan(0.75);
  });
});
