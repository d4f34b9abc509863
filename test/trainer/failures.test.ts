import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TrainerHyper, type TrainerProgress, trainerExitCodes } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { Value } from "@sinclair/typebox/value";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeJob,
  python,
  runTrainer,
  type SynthSet,
  skipWithoutTorch,
  startTrainer,
  synthSet,
  trainerDir,
  writeJob,
} from "./helpers.js";

const skip = skipWithoutTorch();

/** What a caller of the trainer sees when things go wrong: exit codes, error lines, no half outputs. */
describe.skipIf(skip)("built-in trainer: failures and cancellation", () => {
  let dir: TempDir;
  let set: SynthSet;
  let n = 0;
  const input = { width: 48, height: 32 };

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-fail-");
    set = await synthSet({
      dir: join(dir.path, "data"),
      count: 40,
      synth: { seed: 14, width: 64, height: 48, defectRate: 0.5 },
      task: "classification",
    });
  }, 60_000);

  afterAll(async () => {
    await dir?.remove();
  });

  /** Writes a job to a fresh job file; returns its path and output directory. */
  async function job(mutate: (j: Record<string, unknown>) => void = () => {}) {
    n++;
    const outputDir = join(dir.path, `out${n}`);
    // a deep copy: mutations must not leak into the shared samples
    const j = structuredClone(
      makeJob("classification", set.samples, outputDir, input, { epochs: 3 }),
    ) as unknown as Record<string, unknown>;
    mutate(j);
    const path = join(dir.path, `job${n}.json`);
    await writeJob(path, j);
    return { path, outputDir };
  }

  const errorLine = (lines: TrainerProgress[]) => {
    const errors = lines.filter((l) => l.type === "error");
    expect(errors).toHaveLength(1);
    return errors[0] as Extract<TrainerProgress, { type: "error" }>;
  };

  const files = async (d: string) => (await readdir(d).catch(() => [] as string[])).sort();

  it("rejects a bad job spec with exit 2 and an error line naming every bad key path", async () => {
    const { path, outputDir } = await job((j) => {
      (j.hyper as Record<string, unknown>).epochs = 0;
      j.bogus = true;
      (j.samples as Array<Record<string, unknown>>)[3]!.classes = ["nonsense"];
    });
    const r = await runTrainer(path);
    expect(r.code).toBe(trainerExitCodes.badJob);
    const e = errorLine(r.lines);
    expect(e.code).toBe("KENSA_ERR_TRAINER_JOB_INVALID");
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain("/hyper/epochs");
    expect(e.message).toContain("/bogus: unknown key");
    expect(e.message).toContain("/samples/3/classes/0: unknown label 'nonsense'");
    expect(r.lines).toHaveLength(1);
    expect(await files(outputDir)).toEqual([]);
  });

  it("rejects a job file that is not JSON with exit 2", async () => {
    const path = join(dir.path, "broken.json");
    await writeFile(path, "{ not json");
    const r = await runTrainer(path);
    expect(r.code).toBe(2);
    expect(errorLine(r.lines).message).toContain("not readable JSON");
  });

  it("refuses an outputDir that already holds a model, leaving it untouched", async () => {
    const { path, outputDir } = await job();
    await mkdir(outputDir, { recursive: true });
    await writeFile(join(outputDir, "model.onnx"), "an earlier model");
    const r = await runTrainer(path);
    expect(r.code).toBe(2);
    expect(errorLine(r.lines).message).toContain("already holds model.onnx");
    expect(await readFile(join(outputDir, "model.onnx"), "utf8")).toBe("an earlier model");
  });

  it("exits 3 naming the sample when an image is missing, and writes no model", async () => {
    const { path, outputDir } = await job((j) => {
      (j.samples as Array<Record<string, unknown>>)[5]!.path = join(dir.path, "data", "gone.jpg");
    });
    const r = await runTrainer(path);
    expect(r.code).toBe(trainerExitCodes.dataError);
    const e = errorLine(r.lines);
    expect(e.code).toBe("KENSA_ERR_TRAINER_DATA_INVALID");
    expect(e.message).toContain(`sample '${set.samples[5]!.id}': image not found`);
    expect(await files(outputDir)).toEqual(["train.log"]);
  });

  it("exits 3 when an image does not decode", async () => {
    const bad = join(dir.path, "data", "corrupt.jpg");
    await writeFile(bad, Buffer.from("definitely not a jpeg"));
    const { path } = await job((j) => {
      (j.samples as Array<Record<string, unknown>>)[2]!.path = bad;
    });
    const r = await runTrainer(path);
    expect(r.code).toBe(3);
    expect(errorLine(r.lines).message).toContain("cannot be decoded");
  });

  it("exits 143 on SIGTERM mid-training and leaves no model or temporary file behind", async () => {
    const { path, outputDir } = await job((j) => {
      (j.hyper as Record<string, unknown>).epochs = 500;
      (j.hyper as Record<string, unknown>).quantize = true;
    });
    const run = startTrainer(path);
    await run.waitFor("epoch");
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(trainerExitCodes.terminated);
    const e = errorLine(run.lines);
    expect(e.code).toBe("KENSA_ERR_TRAINER_CANCELLED");
    expect(e.exitCode).toBe(143);
    expect(run.lines.some((l) => l.type === "done")).toBe(false);
    expect(await files(outputDir)).toEqual(["train.log"]);
  });

  it("exits 130 on SIGINT", async () => {
    const { path, outputDir } = await job((j) => {
      (j.hyper as Record<string, unknown>).epochs = 500;
    });
    const run = startTrainer(path);
    await run.waitFor("start");
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(trainerExitCodes.interrupted);
    expect(await files(outputDir)).toEqual(["train.log"]);
  });

  it("applies the same hyper-parameter defaults as the TypeBox schema", () => {
    const py = JSON.parse(
      execFileSync(python, ["-m", "kensa_trainer", "--defaults"], { cwd: trainerDir, encoding: "utf8" }),
    ) as unknown;
    expect(py).toEqual(Value.Default(TrainerHyper, {}));
  });
});
