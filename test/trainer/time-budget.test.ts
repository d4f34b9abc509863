import { join } from "node:path";
import type { TrainerProgress } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJob, runTrainer, skipWithoutTorch, synthSet, writeJob } from "./helpers.js";

type Line<T extends TrainerProgress["type"]> = Extract<TrainerProgress, { type: T }>;

/** Trains 40 synthetic 32×24 images on one thread, early stopping off: only the budget ends the run. */
async function budgetRun(
  dir: string,
  seed: number,
  job: { epochs: number; budgetSec: number; epochsFromBudget?: boolean },
): Promise<Awaited<ReturnType<typeof runTrainer>>> {
  const set = await synthSet({
    dir: join(dir, "data"),
    count: 40,
    synth: { seed, width: 64, height: 48, defectRate: 0.5 },
    task: "classification",
  });
  const { epochs, ...extra } = job;
  const made = makeJob(
    "classification",
    set.samples,
    join(dir, "out"),
    { width: 32, height: 24 },
    { epochs, patience: 0 },
  );
  await writeJob(join(dir, "job.json"), { ...made, threads: 1, ...extra });
  return runTrainer(join(dir, "job.json"));
}

/**
 * A job with far more epochs than its wall-time budget allows (job.budgetSec): the trainer stops
 * before an epoch that would end past the budget, says "time budget", and exports the best
 * epoch so far.
 */
describe.skipIf(skipWithoutTorch())("built-in trainer: time budget", () => {
  let dir: TempDir;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const epochs = 500;
  const budgetSec = 20;

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-budget-");
    run = await budgetRun(dir.path, 3, { epochs, budgetSec });
  }, 120_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("fits the epochs to the budget, stops when it is spent, says so, and keeps the best epoch so far", () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const ep = run.lines.filter((l): l is Line<"epoch"> => l.type === "epoch");
    const done = run.lines.find((l): l is Line<"done"> => l.type === "done")!;
    expect(done.epochsRun).toBe(ep.length);
    expect(done.epochsRun).toBeLessThan(epochs);
    // no epoch started that the slowest one so far said would not fit (generous: the machine is shared)
    expect(ep.at(-1)!.elapsedSec).toBeLessThanOrEqual(budgetSec + 10);
    const reason = (done as Line<"done"> & { stopReason?: string }).stopReason ?? "";
    expect(reason).toContain(`kept epoch ${done.bestEpoch}'s weights`);
    expect(done.bestEpoch).toBeLessThanOrEqual(done.epochsRun);
    // after two measured epochs the plan shrinks to what fits (the lr schedule with it), and
    // the run either ends that plan or, when even it runs over, stops on the budget
    const planned = ep.at(-1)!.epochs;
    expect(planned).toBeLessThan(epochs);
    const logs = run.lines.filter((l): l is Line<"log"> => l.type === "log").map((l) => l.message);
    expect(logs.some((m) => m.startsWith(`time budget: ${epochs} epochs will not fit at `))).toBe(true);
    if (reason.startsWith("stopped by the time budget")) {
      expect(reason).toMatch(new RegExp(`^stopped by the time budget after epoch ${done.epochsRun} of ${planned}: `));
      expect(done.stoppedEarly).toBe(true);
    } else {
      expect(reason).toContain(`(epochs cut from ${epochs} to ${planned} to fit the time budget of ${budgetSec} s)`);
      expect(done.epochsRun).toBe(planned);
    }
    // the schedule decayed: the last epoch's lr is well below the peak (0.003 in makeJob)
    expect(ep.at(-1)!.lr).toBeLessThan(0.003 * 0.5);
  });
});

/**
 * A job whose epochs are only the hub's estimate of what fits (job.epochsFromBudget, set by the
 * automatic recipe, which plans for a busy machine): when the measured epochs leave room, the
 * trainer plans more of them early in the run and the schedule lengthens with them.
 */
describe.skipIf(skipWithoutTorch())("built-in trainer: epochs planned from the budget", () => {
  let dir: TempDir;
  let run: Awaited<ReturnType<typeof runTrainer>>;
  const epochs = 3;
  const budgetSec = 12;

  beforeAll(async () => {
    dir = await tempDir("kensa-trainer-budget-grow-");
    run = await budgetRun(dir.path, 4, { epochs, budgetSec, epochsFromBudget: true });
  }, 120_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it("plans more epochs when the measured ones leave room, says so, and still ends within the budget", () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const ep = run.lines.filter((l): l is Line<"epoch"> => l.type === "epoch");
    const done = run.lines.find((l): l is Line<"done"> => l.type === "done")!;
    const logs = run.lines.filter((l): l is Line<"log"> => l.type === "log").map((l) => l.message);
    const grown = logs.find((m) => m.startsWith("time budget: room for "));
    expect(grown, logs.join("\n")).toBeDefined();
    const planned = ep.at(-1)!.epochs;
    expect(planned).toBeGreaterThan(epochs);
    expect(done.epochsRun).toBeGreaterThan(epochs);
    expect(ep.at(-1)!.elapsedSec).toBeLessThanOrEqual(budgetSec + 10);
    const reason = (done as Line<"done"> & { stopReason?: string }).stopReason ?? "";
    expect(reason).toContain(`epochs raised from ${epochs} to ${planned}`);
  });
});
