import type { Evaluation, ModelVersion, TrainingRun, TrainingSettings } from "@kensa/contracts";
import { needService } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { seed, startHub, type TestHub } from "./helpers.js";
import { uploadFrames, waitForGate, waitForRun } from "./training-fixtures.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));

/**
 * A run asked for tiles (`kensa train --tile`): the hub checks them, records them in the run's
 * params and recipe, hands them to the trainer, registers a model whose manifest carries them,
 * and evaluates that model tiled. Nonsense tiles are refused before anything is queued.
 */
describe.skipIf(skip)("tiled training through the hub", () => {
  let t: TestHub;
  let projectId: string;

  beforeAll(async () => {
    t = await startHub({ training: { pollMs: 100 } });
    projectId = (await seed(t.call, "torch-tiling", [], { task: "anomaly", labels: ["ok", "defect"] })).projectId;
    await uploadFrames(t.call, projectId, 40, { seed: 23, width: 160, height: 120, defectRate: 0.5 });
    const s = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        gate: { latencyBudgetMs: 10_000 },
        defaults: { input: { width: 64, height: 48, channels: 3 }, hyper: { epochs: 2, batchSize: 16 }, threads: 1 },
      },
    });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it("refuses tiles smaller than the input and overlaps of half a tile with KENSA_ERR_TILING_INVALID", async () => {
    for (const tiling of [
      { width: 32, height: 32, overlap: 8 },
      { width: 64, height: 48 }, // the default overlap of 32 px is not under half of 48
      { width: 64, height: 48, overlap: 24 },
    ]) {
      const r = await t.call<{ error: { code: string; message: string } }>(
        "POST",
        `/api/v1/projects/${projectId}/runs`,
        {
          body: { by: "qa", tiling },
        },
      );
      expect(r.status, JSON.stringify(r.json)).toBe(422);
      expect(r.json.error.code).toBe("KENSA_ERR_TILING_INVALID");
    }
  });

  it("trains on tiles, and the registered model's manifest and the hub's evaluation use them", async () => {
    const created = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, {
      body: { by: "qa", tiling: { width: 64, height: 48, overlap: 16 } },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json.params.tiling).toEqual({ width: 64, height: 48, overlap: 16 });
    expect(created.json.params.recipe!.reasons.find((r) => r.key === "tiling")).toMatchObject({
      value: "64×48 px, overlap 16 px",
      why: "set by the run",
    });
    const done = await waitForRun(t.call, created.json.id, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    const log = (await t.call<string>("GET", `/api/v1/runs/${done.id}/log`)).json;
    expect(log).toMatch(/tiled: 64x48 px tiles \(overlap 16 px\) resized to 64x48/);
    const model = (await t.call<ModelVersion>("GET", `/api/v1/models/${done.modelVersionId}`)).json;
    expect(model.manifest.tiling).toEqual({ width: 64, height: 48, overlap: 16 });
    await waitForGate(t.call, model.id, 120_000);
    const evals = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${model.id}/evaluations`)).json.items;
    expect(evals[0]!.metrics!.samples).toBeGreaterThan(0);
  }, 360_000);
});
