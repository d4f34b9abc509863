import { join } from "node:path";
import type { TrainingRun, TrainingSettings } from "@kensa/contracts";
import { needService, type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWorkerToken } from "../src/jobs/worker-tokens.js";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { seed, startHub, type TestHub } from "./helpers.js";
import { WorkerProcess } from "./remote-worker-fixtures.js";
import { modelsOf, uploadFrames, waitForGate, waitForRun } from "./training-fixtures.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));

/**
 * The built-in PyTorch trainer on a `kensa worker` process: the hub trains nothing itself
 * (training.remote.localTraining false), the worker runs trainers/torch on tiny synthetic
 * frames, and the model it uploads is registered once and goes through the gate.
 */
describe.skipIf(skip)("the built-in trainer on a worker process", () => {
  let t: TestHub;
  let dir: TempDir;
  let token: string;
  let projectId: string;
  let w: WorkerProcess | null = null;

  beforeAll(async () => {
    dir = await tempDir("kensa-worker-torch-");
    const made = newWorkerToken();
    token = made.token;
    t = await startHub({
      training: {
        pollMs: 100,
        remote: { localTraining: false, tokens: [{ name: "torch", sha256: made.sha256 }], leaseMs: 10_000 },
      },
    });
    projectId = (await seed(t.call, "worker-torch", [{ id: "cam-1", tags: ["line-1"] }])).projectId;
    await uploadFrames(t.call, projectId, 120, { seed: 11, width: 128, height: 96, defectRate: 0.5 });
    const s = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        gate: { minPrimary: 0.5, latencyBudgetMs: 5000 },
        defaults: {
          input: { width: 64, height: 48, channels: 3 },
          hyper: { epochs: 3, batchSize: 16, patience: 0 },
          threads: 1,
        },
      },
    });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
  }, 60_000);

  afterAll(async () => {
    w?.kill("SIGKILL");
    await t?.close();
    await dir?.remove();
  });

  it("trains on the worker, registers one model version, and the gate decides on it", async () => {
    const run = (await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: {} })).json;
    w = new WorkerProcess(["--hub", t.httpUrl, "--token", token, "--cuda", "no", "--data-dir", join(dir.path, "w")]);
    const done = await waitForRun(t.call, run.id, 180_000).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${w?.out}`);
    });
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.trainer.version).toMatch(/^kensa-torch\/\d+ torch\//);
    expect(done.trainerMetrics).toMatchObject({ primaryMetric: "accuracy", epochsRun: 3 });
    const gate = await waitForGate(t.call, done.modelVersionId!, 120_000);
    expect(gate.results.find((r) => r.name === "primary_floor")).toMatchObject({ threshold: 0.5 });
    expect((await modelsOf(t.call, projectId)).map((m) => m.id)).toEqual([done.modelVersionId]);
    const log = (await t.call<string>("GET", `/api/v1/runs/${run.id}/log`)).json;
    expect(log).toContain(`claimed by worker ${await w.id()}`);
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 300_000);
});
