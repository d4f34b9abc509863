import type { ModelVersion, TrainingRun } from "@kensa/contracts";
import { needService } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { seed, startHub, type TestHub } from "./helpers.js";
import { uploadFrames, waitForRun } from "./training-fixtures.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));

const BUDGET_SEC = 30;

/**
 * A run that names nothing but a time budget: the hub chooses input, channels, augmentations,
 * balancing and epochs from the snapshot, the built-in trainer trains within the budget, and
 * the model card and the model's lineage say what was chosen and why.
 */
describe.skipIf(skip)("automatic recipes through the hub and the built-in trainer", () => {
  let t: TestHub;
  let projectId: string;

  beforeAll(async () => {
    t = await startHub({ training: { pollMs: 100 } });
    projectId = (await seed(t.call, "recipe-torch", [])).projectId;
    // 60 colour frames of 96×64, about a quarter with a defect: imbalanced (≥ 3×) on purpose
    await uploadFrames(t.call, projectId, 60, { seed: 5, width: 96, height: 64, defectRate: 0.22 });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it("trains from a budget alone and the model card shows the recipe's reasons", async () => {
    const created = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, {
      body: { budgetSec: BUDGET_SEC, by: "qa" },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const params = created.json.params;
    expect(params.budgetSec).toBe(BUDGET_SEC);
    const reasons = new Map(params.recipe!.reasons.map((r) => [r.key, r]));
    expect([...reasons.keys()].sort()).toEqual(["augment", "balanceClasses", "channels", "epochs", "input"]);
    // images 96 px wide: the classifier input is not larger than the images, aspect kept
    expect(params.input).toMatchObject({ width: 96, height: 64 });
    expect(reasons.get("epochs")!.why).toContain(`${BUDGET_SEC}s budget`);
    expect(params.hyper.epochs).toBe(Number(reasons.get("epochs")!.value));
    expect(params.hyper.epochs).toBeGreaterThanOrEqual(1);
    // nothing was given by hand: no choice says "set by"
    for (const r of reasons.values()) expect(r.why, r.key).not.toContain("set by");
    const counts = reasons.get("balanceClasses")!.why;
    expect(params.hyper.balanceClasses, counts).toBe(/≥ 3/.test(counts));

    const started = Date.now();
    const done = await waitForRun(t.call, created.json.id, 180_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    // the trainer held the budget (start-up and export on top, and a shared machine: generous)
    expect((Date.now() - started) / 1000).toBeLessThan(BUDGET_SEC + 60);
    // the epochs were the recipe's estimate (for a busy machine): the trainer may have planned more
    expect(params.recipe!.budgetEpochs).toBe(true);
    expect(done.trainerMetrics!.epochsRun).toBeGreaterThanOrEqual(1);

    const model = (await t.call<ModelVersion>("GET", `/api/v1/models/${done.modelVersionId}`)).json;
    expect(model.manifest.input).toMatchObject({ width: 96, height: 64, channels: params.input.channels });
    expect(model.lineage!.params).toMatchObject({ budgetSec: BUDGET_SEC, recipe: params.recipe });

    const card = await t.call<string>("GET", `/api/v1/models/${done.modelVersionId}/card`);
    expect(card.status).toBe(200);
    const md = card.json;
    expect(md).toContain(`| time budget | ${BUDGET_SEC} s of trainer wall time |`);
    expect(md).toContain("How the recipe was chosen:");
    for (const r of params.recipe!.reasons) expect(md).toContain(`| ${r.key} | ${r.value} |`);
    expect(md).toContain(`${BUDGET_SEC}s budget: ≈ `);
  }, 240_000);
});
