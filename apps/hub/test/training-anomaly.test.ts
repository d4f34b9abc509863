import type { Evaluation, GateReport, ModelVersion, TrainingRun, TrainingSettings } from "@kensa/contracts";
import { needService } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { seed, startHub, type TestHub } from "./helpers.js";
import { uploadFrames, waitForGate, waitForRun } from "./training-fixtures.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));

/**
 * An anomaly project trained through the hub from its OK frames: the hub hands the trainer
 * every labelled frame (anomalous ones marked by their non-OK class), the trainer learns from
 * the good ones with synthesized damage, and the hub's own evaluation scores the exported map
 * on the test split's real defects; the gate decides on AUROC.
 */
describe.skipIf(skip)("anomaly detection from good parts, through the hub", () => {
  let t: TestHub;
  let projectId: string;

  beforeAll(async () => {
    t = await startHub({ training: { pollMs: 100 } });
    const seeded = await seed(t.call, "torch-anomaly", [], { task: "anomaly", labels: ["ok", "defect"] });
    projectId = seeded.projectId;
    await uploadFrames(t.call, projectId, 200, { seed: 21, width: 128, height: 96, defectRate: 0.5 });
    const s = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        gate: { minPrimary: 0.6, latencyBudgetMs: 5000 },
        defaults: {
          input: { width: 64, height: 48, channels: 3 },
          hyper: { epochs: 10, batchSize: 16, patience: 0 },
          threads: 1,
        },
      },
    });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it("trains on the OK frames, calibrates a threshold, and the hub scores AUROC on real defects", async () => {
    const run = (await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { by: "qa" } })).json;
    expect(run.params.task).toBe("anomaly");
    const done = await waitForRun(t.call, run.id, 180_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.trainerMetrics).toMatchObject({ primaryMetric: "auroc" });
    const model = (await t.call<ModelVersion>("GET", `/api/v1/models/${done.modelVersionId}`)).json;
    expect(model.manifest.task).toBe("anomaly");
    expect(model.manifest.postprocessing).toMatchObject({ type: "anomaly", scoreReduce: "max" });
    expect(model.manifest.thresholds.default).not.toBe(0.5);
    const gate: GateReport = await waitForGate(t.call, model.id, 120_000);
    const evals = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${model.id}/evaluations`)).json.items;
    const values = evals[0]!.metrics!.values;
    expect(values.auroc, JSON.stringify(values)).toBeGreaterThan(0.7);
    expect(values.accuracy).toBeGreaterThan(0.6);
    expect(gate.results.find((r) => r.name === "primary_floor")).toMatchObject({ threshold: 0.6, pass: true });
  }, 300_000);
});
