import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TrainerProgress } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, python, runTrainer, skipWithoutTorch, synthSet, trainerDir, writeJob } from "./helpers.js";

type Line<T extends TrainerProgress["type"]> = Extract<TrainerProgress, { type: T }>;

/**
 * The early-stopping rule and the ETA (trainers/torch/kensa_trainer/stopping.py, eta.py): their
 * unit tests need only Python's standard library and take milliseconds.
 */
describe("built-in trainer: stopping rule and ETA (stdlib unit tests)", () => {
  it("passes trainers/torch/tests", () => {
    const out = execFileSync(python, ["-m", "unittest", "discover", "-s", "tests"], {
      cwd: trainerDir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    expect(out).toBe("");
  });
});

/**
 * A real run whose val metric cannot move (lr 1e-6): the old rule (patience 1 on the raw
 * maximum) stopped it at epoch 2; the new one waits for half the budget and half the peak lr,
 * says why it stopped, and reports its source revision for the code-revision trigger.
 */
describe.skipIf(skipWithoutTorch())("built-in trainer: early stopping on a flat curve", () => {
  let dir: TempDir;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const epochs = 8;

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-stop-");
    const set = await synthSet({
      dir: join(dir.path, "data"),
      count: 40,
      synth: { seed: 5, width: 64, height: 48, defectRate: 0.5 },
      task: "classification",
    });
    const job = makeJob(
      "classification",
      set.samples,
      join(dir.path, "out"),
      { width: 32, height: 24 },
      { epochs, patience: 1, lr: 1e-6 },
    );
    await writeJob(join(dir.path, "job.json"), job);
    run = await runTrainer(join(dir.path, "job.json"));
  }, 120_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("stops no earlier than half the budget with the lr at most half its peak, and says why", async () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const lines = run.lines;
    const ep = lines.filter((l): l is Line<"epoch"> => l.type === "epoch");
    const done = lines.find((l): l is Line<"done"> => l.type === "done")!;
    const logs = lines.filter((l): l is Line<"log"> => l.type === "log").map((l) => l.message);
    expect(done.stoppedEarly).toBe(true);
    expect(done.epochsRun).toBe(ep.length);
    expect(done.epochsRun).toBeGreaterThanOrEqual(Math.ceil(epochs / 2));
    expect(done.epochsRun).toBeLessThan(epochs);
    expect(ep.at(-1)!.lr).toBeLessThanOrEqual(0.5 * 1e-6);
    // the epoch before the stop still had the lr above half its peak, or was before half the budget
    const prev = ep.at(-2)!;
    expect(prev.lr > 0.5e-6 || prev.epoch < Math.ceil(epochs / 2)).toBe(true);
    const reason = (done as Line<"done"> & { stopReason?: string }).stopReason ?? "";
    expect(reason).toMatch(
      new RegExp(`^stopped early after epoch ${done.epochsRun} of ${epochs}: .*patience 1 epochs`),
    );
    expect(logs).toContain(reason);
    expect(logs.some((m) => m.startsWith("stop when the EMA(alpha 0.5) of val accuracy"))).toBe(true);
    const trainLog = await readFile(join(dir.path, "out", "train.log"), "utf8");
    expect(trainLog).toContain(reason);
    const metrics = JSON.parse(await readFile(join(dir.path, "out", "metrics.json"), "utf8")) as {
      bestEpoch: number;
      stoppedEarly: boolean;
    };
    expect(metrics).toMatchObject({ bestEpoch: done.bestEpoch, stoppedEarly: true });
    expect(reason).toContain(`kept epoch ${done.bestEpoch}'s weights`);
  });

  it("estimates the time left from the median of measured epochs (validation included)", () => {
    const ep = run.lines.filter((l): l is Line<"epoch"> => l.type === "epoch");
    expect(ep.length).toBeGreaterThanOrEqual(4);
    for (const e of ep) expect(e.etaSec).not.toBeNull();
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    // epoch wall times as the progress lines saw them; the first one also holds data loading
    const took = ep.slice(1).map((e, i) => e.elapsedSec - ep[i]!.elapsedSec);
    for (let k = 3; k <= ep.length; k++) {
      const expected = (epochs - k) * median(took.slice(Math.max(0, k - 6), k - 1));
      // etaSec is rounded to 0.1 s, and the trainer's clock runs a moment ahead of the line's
      expect(Math.abs(ep[k - 1]!.etaSec! - expected), `epoch ${k}`).toBeLessThanOrEqual(0.15 * (epochs - k) + 0.1);
    }
  });

  it("reports the trainer's source revision as src/<digest> in its version", () => {
    const start = run.lines.find((l): l is Line<"start"> => l.type === "start")!;
    const digest = execFileSync(python, ["-m", "kensa_trainer.revision"], { cwd: trainerDir, encoding: "utf8" }).trim();
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(start.trainer).toMatch(new RegExp(` src/${digest.slice(0, 12)}$`));
  });
});
