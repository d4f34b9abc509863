import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  compile,
  ModelManifest,
  parseWith,
  TrainerCurves,
  TrainerMetrics,
  type TrainerProgress,
  TrainerProgress as TrainerProgressSchema,
} from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { Classifier, checkModelAgainstManifest } from "@kensa/vision";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, runTrainer, type SynthSet, share, skipWithoutTorch, synthSet, writeJob } from "./helpers.js";

const skip = skipWithoutTorch();

/**
 * Trains the built-in classifier on 240 synthetic 128×96 frames (half defective) at 64×48 input,
 * then proves in TypeScript, with ONNX Runtime and the manifest the trainer wrote, that the model
 * tells defective from OK frames it never saw.
 */
describe.skipIf(skip)("built-in trainer: classification", () => {
  let dir: TempDir;
  let set: SynthSet;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const out = () => join(dir.path, "out");

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-cls-");
    set = await synthSet({
      dir: join(dir.path, "data"),
      count: 240,
      synth: { seed: 11, width: 128, height: 96, defectRate: 0.5 },
      task: "classification",
    });
    const job = makeJob(
      "classification",
      set.samples,
      out(),
      { width: 64, height: 48 },
      { epochs: 10, quantize: true },
    );
    await writeJob(join(dir.path, "job.json"), job);
    run = await runTrainer(join(dir.path, "job.json"));
  }, 120_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("reports progress as contract lines: start, every epoch, done, and the loss falls", () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const check = compile(TrainerProgressSchema);
    for (const line of run.lines) expect(check.issues(line), JSON.stringify(line)).toEqual([]);
    expect(run.lines[0]?.type).toBe("start");
    expect(run.lines.at(-1)?.type).toBe("done");
    const epochs = run.lines.filter((l): l is Extract<TrainerProgress, { type: "epoch" }> => l.type === "epoch");
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(epochs.at(-1)!.loss).toBeLessThan(epochs[0]!.loss * 0.8);
    expect(run.lines.some((l) => l.type === "step")).toBe(true);
  });

  it("writes every output and nothing temporary; metrics and curves match their schemas", async () => {
    const files = (await readdir(out())).sort();
    expect(files).toEqual([
      "curves.json",
      "manifest.json",
      "metrics.json",
      "model.int8.onnx",
      "model.onnx",
      "train.log",
    ]);
    const metrics = parseWith(TrainerMetrics, JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")));
    expect(metrics.primaryMetric).toBe("accuracy");
    expect(metrics.test?.samples).toBe(48);
    const curves = parseWith(TrainerCurves, JSON.parse(await readFile(join(out(), "curves.json"), "utf8")));
    expect(curves.epochs).toHaveLength(metrics.epochsRun);
  });

  it("exports a model that ONNX Runtime runs as its manifest says, > 85 % accurate on the test split", async () => {
    const manifest = parseWith(ModelManifest, JSON.parse(await readFile(join(out(), "manifest.json"), "utf8")));
    expect(manifest.input).toMatchObject({ name: "image", width: 64, height: 48, channels: 3 });
    expect(manifest.postprocessing).toMatchObject({ type: "classification", activation: "none", output: "scores" });
    const bytes = await readFile(join(out(), "model.onnx"));
    await checkModelAgainstManifest(bytes, manifest);

    const fp32 = await accuracy(bytes, manifest);
    const metrics = JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")) as TrainerMetrics;
    console.log(
      `classification: test accuracy ${fp32.toFixed(3)} in ONNX Runtime, ${metrics.test?.primary.toFixed(3)} in torch; ` +
        `best epoch ${metrics.bestEpoch}, ${metrics.elapsedSec.toFixed(1)} s`,
    );
    expect(fp32).toBeGreaterThan(0.85);
    // the trainer resizes with PIL, inference with sharp: they agree closely, not bit for bit
    expect(Math.abs(fp32 - metrics.test!.primary)).toBeLessThanOrEqual(0.05);
  });

  it("quantizes to an int8 model that is smaller and about as accurate", async () => {
    const manifest = parseWith(ModelManifest, JSON.parse(await readFile(join(out(), "manifest.json"), "utf8")));
    const int8 = await readFile(join(out(), "model.int8.onnx"));
    const fp32 = await readFile(join(out(), "model.onnx"));
    await checkModelAgainstManifest(int8, manifest);
    expect(int8.length).toBeLessThan(fp32.length / 2.5);
    const acc8 = await accuracy(int8, manifest);
    const metrics = JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")) as TrainerMetrics;
    console.log(
      `classification int8: test accuracy ${acc8.toFixed(3)} in ONNX Runtime, ${metrics.int8?.test?.primary.toFixed(3)} in torch; ` +
        `val delta ${metrics.int8?.valPrimaryDelta.toFixed(3)}; ${(int8.length / 1024).toFixed(0)} KiB vs ${(fp32.length / 1024).toFixed(0)} KiB`,
    );
    expect(metrics.int8?.model).toBe("model.int8.onnx");
    expect(acc8).toBeGreaterThan(0.8);
  });

  it("gives identical metrics and model bytes for the same seed", async () => {
    const again = join(dir.path, "again");
    const job = makeJob(
      "classification",
      set.samples,
      again,
      { width: 64, height: 48 },
      { epochs: 10, quantize: true },
    );
    await writeJob(join(dir.path, "job2.json"), job);
    const second = await runTrainer(join(dir.path, "job2.json"));
    expect(second.code).toBe(0);
    const strip = (m: TrainerMetrics) => ({ ...m, elapsedSec: 0 });
    const m1 = JSON.parse(await readFile(join(out(), "metrics.json"), "utf8")) as TrainerMetrics;
    const m2 = JSON.parse(await readFile(join(again, "metrics.json"), "utf8")) as TrainerMetrics;
    expect(strip(m2)).toEqual(strip(m1));
    expect(await readFile(join(again, "model.onnx"))).toEqual(await readFile(join(out(), "model.onnx")));
  }, 120_000);

  async function accuracy(bytes: Uint8Array, manifest: ModelManifest): Promise<number> {
    const classifier = await Classifier.create(bytes, manifest, { intraOpThreads: 1 });
    try {
      const hits: boolean[] = [];
      for (const s of set.samples.filter((x) => x.split === "test")) {
        const { result } = await classifier.infer(await readFile(s.path));
        hits.push(result.label === s.classes[0]);
      }
      return share(hits);
    } finally {
      await classifier.close();
    }
  }
});
