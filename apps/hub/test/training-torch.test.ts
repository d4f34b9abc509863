import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import {
  type Evaluation,
  type GateReport,
  type ModelVersion,
  type TrainingRun,
  type TrainingSettings,
  topics,
} from "@kensa/contracts";
import { writeSyntheticDataset } from "@kensa/synth";
import { needService, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { importArchive, pack } from "./datasets-fixtures.js";
import { backends, connectDevice, seed, startHub, type TestHub } from "./helpers.js";
import { DesiredWatch, uploadFrames, waitForGate, waitForRun } from "./training-fixtures.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));
const list = skip ? [] : await backends("training-torch");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

// small and fast: one trainer thread, 64×48 input, a few epochs (seconds each on 2 cores)
const FAST = { epochs: 3, batchSize: 16, patience: 0 };
// the classifier needs a few more epochs to leave chance (measured: 200 frames, 5 epochs → ≈ 0.9 in ≈ 6 s)
const CLS = { ...FAST, epochs: 5 };

/**
 * The loop with the real trainer and ONNX Runtime: a run trains a model, the hub evaluates it,
 * the gate auto-approves the first one on the absolute floor and deploys it to the device; a
 * challenger with an int8 variant is measured against the champion on the same snapshot, waits
 * for a person, and her approval moves the champion and the device.
 */
describe.skipIf(skip).each(list)("the built-in trainer through the hub ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secret: string;

  beforeAll(async () => {
    t = await startHub({ database: backend.database(), training: { pollMs: 100 } });
    const seeded = await seed(t.call, "torch-cls", [{ id: "cam-1", tags: ["line-1"] }]);
    projectId = seeded.projectId;
    secret = seeded.secrets["cam-1"]!;
    await uploadFrames(t.call, projectId, 200, { seed: 11, width: 128, height: 96, defectRate: 0.5 });
    const s = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        autoDeploy: { tags: ["line-1"] },
        gate: { minPrimary: 0.6, latencyBudgetMs: 5000 },
        defaults: { input: { width: 64, height: 48, channels: 3 }, hyper: CLS, threads: 1 },
      },
    });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it("trains, evaluates, auto-approves the first model on the floor and deploys it; then gates a challenger", async () => {
    const device = await connectDevice(t.mqttUrl, "cam-1", secret);
    try {
      const watch = new DesiredWatch(device, "cam-1");
      await device.subscribeAsync(topics.desired("cam-1"), { qos: 1 });
      const run = (await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { by: "qa" } }))
        .json;
      const done = await waitForRun(t.call, run.id, 120_000);
      expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
      expect(done.trainer.version).toMatch(/^kensa-torch\/\d+ torch\//);
      expect(done.progress).toMatchObject({ epoch: 5, epochs: 5, fraction: 1 });
      expect(done.trainerMetrics).toMatchObject({ primaryMetric: "accuracy", epochsRun: 5 });
      const v1 = done.modelVersionId!;
      // the deployment follows the approval's commit: wait until the report names it
      const gate1 = await waitFor("the auto-deployment of v1", async () => {
        const g = await waitForGate(t.call, v1);
        return g.deploymentId || g.decision !== "auto_approved" ? g : null;
      });
      expect(gate1.decision, JSON.stringify(gate1)).toBe("auto_approved");
      expect(gate1.results.find((r) => r.name === "primary_floor")).toMatchObject({ threshold: 0.6, pass: true });
      expect(gate1.deploymentId, JSON.stringify(gate1)).toBeTruthy();
      await watch.running(v1);
      const m1 = (await t.call<ModelVersion>("GET", `/api/v1/models/${v1}`)).json;
      expect(m1).toMatchObject({ stage: "approved", champion: true });
      expect(m1.manifest.input).toMatchObject({ width: 64, height: 48 });

      // a challenger on the same data (same snapshot, content-addressed) with an int8 variant,
      // held to an improvement it cannot make and to no floor: a person decides
      const put = await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, {
        body: { gate: { minImprovement: 0.5, minPrimary: null, notSignificant: "ask" } },
      });
      expect(put.status).toBe(200);
      const run2 = (
        await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, {
          body: { hyper: { epochs: 6, quantize: true } },
        })
      ).json;
      expect(run2.snapshotId).toBe(run.snapshotId);
      const done2 = await waitForRun(t.call, run2.id, 120_000);
      expect(done2.status, JSON.stringify(done2.error)).toBe("succeeded");
      const v2 = done2.modelVersionId!;
      const gate2: GateReport = await waitForGate(t.call, v2);
      expect(gate2, JSON.stringify(gate2.results)).toMatchObject({
        championId: v1,
        snapshotId: run.snapshotId,
        decision: "awaiting_approval",
      });
      const improvement = gate2.results.find((r) => r.name === "primary_improvement")!;
      expect(improvement).toMatchObject({ threshold: 0.5, pass: false });
      expect(improvement.champion).toBeCloseTo(gate1.results.find((r) => r.name === "primary_floor")!.challenger!, 10);
      expect(gate2.results.map((r) => r.name)).toEqual(
        expect.arrayContaining(["primary_improvement", "class_regression", "latency_p95", "int8_drop"]),
      );
      // the champion was evaluated once on this snapshot, not again for the challenger
      const evals1 = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${v1}/evaluations`)).json.items;
      expect(evals1).toHaveLength(1);
      const evals2 = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${v2}/evaluations`)).json.items;
      expect(evals2[0]!.metrics!.int8?.values.accuracy).toBeGreaterThan(0);

      const ok = await t.call<{ model: ModelVersion }>("POST", `/api/v1/models/${v2}/approve`, {
        body: { by: "qa-lead", reason: "int8 is within budget; accept the small regression" },
      });
      expect(ok.json.model).toMatchObject({ stage: "approved", champion: true });
      await watch.running(v2);
      // the previous champion stays approved (a rollback is one approval away)
      expect((await t.call<ModelVersion>("GET", `/api/v1/models/${v1}`)).json).toMatchObject({
        stage: "approved",
        champion: false,
      });
    } finally {
      await device.endAsync(true);
    }
  }, 240_000);
});

/**
 * Segmentation and detection: masks and boxes come from an imported COCO set, the hub composes
 * class-index masks and box lists for the trainer, and scores the models itself.
 */
describe.skipIf(skip)("segmentation and detection runs through the hub (sqlite)", () => {
  let t: TestHub;
  let data: TempDir;
  let archive: Buffer;

  beforeAll(async () => {
    t = await startHub({ training: { pollMs: 100 } });
    data = await tempDir("kensa-coco-");
    await writeSyntheticDataset(data.path, {
      count: 80,
      format: "coco",
      seed: 21,
      width: 96,
      height: 72,
      defectRate: 0.7,
    });
    const files = [];
    for (const f of await readdir(data.path, { recursive: true, withFileTypes: true })) {
      if (!f.isFile()) continue;
      const path = join(f.parentPath, f.name);
      files.push({ path: relative(data.path, path), data: await readFile(path) });
    }
    archive = pack(files, "tar");
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await data?.remove();
  });

  const project = async (slug: string, task: string, labels: string[], okLabels: string[]) => {
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: { slug, name: slug, task, labels, okLabels },
    });
    const imp = await importArchive(t.call, p.json.id, archive, { format: "coco" });
    expect(imp.json.status, JSON.stringify(imp.json)).toBe("succeeded");
    await t.call("PUT", `/api/v1/projects/${p.json.id}/training-settings`, {
      body: { defaults: { input: { width: 64, height: 48, channels: 3 }, hyper: FAST, threads: 1 } },
    });
    return p.json.id;
  };

  const trainAndEvaluate = async (projectId: string) => {
    const run = (await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: {} })).json;
    const done = await waitForRun(t.call, run.id, 120_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.data!.skipped).toEqual([]);
    const gate = await waitForGate(t.call, done.modelVersionId!);
    // no floor and no champion: the first model waits for a person
    expect(gate.decision).toBe("awaiting_approval");
    const evals = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${done.modelVersionId}/evaluations`))
      .json.items;
    expect(evals[0]?.status).toBe("succeeded");
    return evals[0]!.metrics!;
  };

  it("segmentation: class-index masks from per-object masks; IoU, Dice and pixel AUROC measured", async () => {
    const id = await project("torch-seg", "segmentation", ["background", "spot", "scratch", "stain"], ["background"]);
    const m = await trainAndEvaluate(id);
    const seg = m.segmentation!;
    expect(Object.keys(seg.perClass)).toEqual(["background", "spot", "scratch", "stain"]);
    expect(seg.pixels).toBeGreaterThan(0);
    expect(seg.perClass.background!.iou).toBeGreaterThan(0.5);
    // three epochs on 56 images: the defect map already ranks defect pixels above the surface
    expect(seg.pixelAuroc!).toBeGreaterThan(0.6);
    expect(m.values.miou).toBe(seg.miou);
  }, 180_000);

  it("detection: boxes from the labels; COCO mAP@0.5 and @0.5:0.95 per class", async () => {
    const id = await project("torch-det", "detection", ["spot", "scratch", "stain"], []);
    const m = await trainAndEvaluate(id);
    const det = m.detection!;
    expect(Object.keys(det.perClass).sort()).toEqual(["scratch", "spot", "stain"]);
    expect(det.map50).toBeGreaterThanOrEqual(det.map50_95);
    expect(Object.values(det.perClass).reduce((a, c) => a + c.truths, 0)).toBeGreaterThan(0);
    expect(m.values.map50).toBe(det.map50);
  }, 180_000);
});
