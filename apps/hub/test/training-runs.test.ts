import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Evaluation, ModelVersion, TrainingRun, TrainingSettings } from "@kensa/contracts";
import { topics } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubConfigInput } from "../src/index.js";
import { backends, connectDevice, seed, startHub, type TestHub } from "./helpers.js";
import {
  DesiredWatch,
  modelsOf,
  uploadFrames,
  waitForGate,
  waitForRun,
  writeFakeTrainer,
} from "./training-fixtures.js";

const list = await backends("training-runs");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const SYNTH = { seed: 5, width: 96, height: 72, defectRate: 0.5 };

/**
 * Runs through the hub with trainers that are small Node programs honouring the contract: the
 * failure paths (crash, broken ONNX, cancel), restart survival and triggers, and the registry
 * (lineage, evaluation, gate, approval, deployment to a device) without needing PyTorch.
 */
describe.each(list)("training runs with contract trainers ($name)", (backend) => {
  let files: TempDir;
  let t: TestHub;
  let projectId: string;
  let secret: string;
  let config: (workers: number) => HubConfigInput;
  const dbKey = `runs-${Math.random()}`;

  beforeAll(async () => {
    files = await tempDir("kensa-fake-trainer-");
    const fake = await writeFakeTrainer(files.path);
    const blemish = buildBlemishModel();
    const onnx = join(files.path, "blemish.onnx");
    const manifest = join(files.path, "blemish.manifest.json");
    await writeFile(onnx, blemish.onnx);
    await writeFile(manifest, JSON.stringify(blemish.manifest));
    const node = process.execPath;
    config = (workers) => ({
      database: backend.database(dbKey),
      training: {
        workers,
        pollMs: 50,
        killGraceMs: 2000,
        trainers: {
          crash: { command: [node, fake, "crash"] },
          garbage: { command: [node, fake, "garbage", manifest] },
          slow: { command: [node, fake, "slow"] },
          good: { command: [node, fake, "good", onnx, manifest] },
        },
      },
    });
    t = await startHub(config(1));
    const seeded = await seed(t.call, "fake-runs", [{ id: "cam-1", tags: ["line-1"] }]);
    projectId = seeded.projectId;
    secret = seeded.secrets["cam-1"]!;
    await uploadFrames(t.call, projectId, 40, SYNTH);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await files?.remove();
  });

  const startRun = async (body: Record<string, unknown>) => {
    const r = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json;
  };

  it("a trainer that crashes leaves a failed run with the trainer's reason, its log, and no model", async () => {
    const run = await startRun({ trainer: "crash", by: "qa" });
    expect(run).toMatchObject({ status: "queued", trigger: { type: "manual" }, trainer: { name: "crash" } });
    const done = await waitForRun(t.call, run.id);
    expect(done.status).toBe("failed");
    expect(done.exitCode).toBe(4);
    expect(done.error?.code).toBe("KENSA_ERR_TRAINER_FAILED");
    expect(done.error?.message).toMatch(/exited with code 4 \(training failed.*\): loss became NaN at epoch 1/);
    expect(done.modelVersionId).toBeNull();
    expect(done.data).toMatchObject({ skipped: [] });
    expect(done.data!.train + done.data!.val + done.data!.test).toBe(40);
    const log = await t.call<string>("GET", `/api/v1/runs/${run.id}/log`);
    expect(log.json).toContain("RuntimeError: fake crash");
    expect(await modelsOf(t.call, projectId)).toEqual([]);
    // the work dir (materialised images, outputs) is gone
    expect(existsSync(join(t.dir.path, "runs", run.id))).toBe(false);
  });

  it("a trainer that writes a broken ONNX leaves a failed run and no half-registered model", async () => {
    const done = await waitForRun(t.call, (await startRun({ trainer: "garbage" })).id);
    expect(done.status).toBe("failed");
    expect(done.exitCode).toBe(0);
    expect(done.error?.code).toBe("KENSA_ERR_TRAINER_OUTPUT_INVALID");
    expect(done.error?.message).toMatch(/KENSA_ERR_MODEL_INVALID_ONNX/);
    expect(await modelsOf(t.call, projectId)).toEqual([]);
    const jobs = await t.call<{ items: Array<{ type: string }> }>(
      "GET",
      `/api/v1/jobs?projectId=${projectId}&type=gate`,
    );
    expect(jobs.json.items).toEqual([]);
  });

  it("streams progress over SSE; cancels a queued run at once and a running one by SIGTERM", async () => {
    const slow = await startRun({ trainer: "slow" });
    const queued = await startRun({ trainer: "slow" });
    const res = await fetch(`${t.httpUrl}/api/v1/runs/${slow.id}/events`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const events: Array<{ event: string; run: TrainingRun }> = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, run: JSON.parse(data) as TrainingRun });
        }
      }
    })();
    await waitFor("progress of the slow run", () =>
      events.some((e) => e.run.status === "running" && (e.run.progress?.step ?? 0) >= 1),
    );
    const running = events.find((e) => (e.run.progress?.step ?? 0) >= 1)!.run;
    expect(running.progress).toMatchObject({ epochs: 2, totalSteps: 4, etaSec: 100 });
    expect(running.trainer.version).toBe("fake/1 slow");

    const c1 = await t.call<TrainingRun>("POST", `/api/v1/runs/${queued.id}/cancel`, { body: { by: "qa" } });
    expect(c1.json).toMatchObject({ status: "cancelled", error: { code: "KENSA_ERR_TRAINER_CANCELLED" } });
    const c2 = await t.call<TrainingRun>("POST", `/api/v1/runs/${slow.id}/cancel`, { body: {} });
    expect(c2.status).toBe(200);
    const done = await waitForRun(t.call, slow.id);
    expect(done).toMatchObject({ status: "cancelled", exitCode: 143, error: { code: "KENSA_ERR_TRAINER_CANCELLED" } });
    await reading;
    expect(events.at(-1)).toMatchObject({ event: "end", run: { status: "cancelled" } });
    const again = await t.call<{ error: { code: string } }>("POST", `/api/v1/runs/${slow.id}/cancel`, { body: {} });
    expect(again.json.error.code).toBe("KENSA_ERR_RUN_NOT_CANCELLABLE");
  });

  it("refuses runs that cannot train: another task, an unknown trainer, a foreign snapshot", async () => {
    const task = await t.call<{ error: { code: string } }>("POST", `/api/v1/projects/${projectId}/runs`, {
      body: { task: "detection" },
    });
    expect(task.json.error.code).toBe("KENSA_ERR_RUN_INVALID");
    const trainer = await t.call<{ error: { code: string } }>("POST", `/api/v1/projects/${projectId}/runs`, {
      body: { trainer: "nope" },
    });
    expect(trainer.json.error.code).toBe("KENSA_ERR_TRAINER_UNKNOWN");
    const missing = await t.call<{ error: { code: string } }>("GET", "/api/v1/runs/run_nope");
    expect(missing.status).toBe(404);
  });

  it("a good run registers a model with lineage; the gate evaluates it; approval makes it champion and deploys it", async () => {
    const put = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: { autoDeploy: { tags: ["line-1"] }, gate: { latencyBudgetMs: 10_000 } },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(put.json.gate).toMatchObject({ primaryMetric: "accuracy", latencyBudgetMs: 10_000, minImprovement: 0 });
    const run = await startRun({ trainer: "good", input: { width: 64, height: 64 } });
    const done = await waitForRun(t.call, run.id);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.trainerMetrics).toBeNull();
    const model = (await t.call<ModelVersion>("GET", `/api/v1/models/${done.modelVersionId}`)).json;
    expect(model).toMatchObject({ stage: "candidate", source: `run:${run.id}`, champion: false });
    expect(model.lineage).toMatchObject({
      snapshotId: run.snapshotId,
      runId: run.id,
      trainer: "good",
      trainerVersion: "fake/1 good",
      params: { task: "classification", input: { width: 64, height: 64, channels: 3 } },
    });
    expect(model.lineage!.codeRevision).toMatch(/^([0-9a-f]{40}|unknown)$/);

    // first model, no floor: evaluated, but a person decides
    const gate = await waitForGate(t.call, model.id);
    expect(gate).toMatchObject({ decision: "awaiting_approval", championId: null, snapshotId: run.snapshotId });
    expect(gate.results.map((r) => r.name)).toEqual(["first_model", "latency_p95"]);
    const evals = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${model.id}/evaluations`)).json.items;
    expect(evals).toHaveLength(1);
    const m = evals[0]!.metrics!;
    expect(m.samples).toBeGreaterThan(0);
    expect(m.classification!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(m.samples);
    expect(m.latency.p95).toBeGreaterThan(0);
    // the same pair is evaluated once
    const again = await t.call<Evaluation>("POST", `/api/v1/models/${model.id}/evaluations`, {
      body: { snapshotId: run.snapshotId },
    });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(evals[0]!.id);

    const device = await connectDevice(t.mqttUrl, "cam-1", secret);
    try {
      const watch = new DesiredWatch(device, "cam-1");
      await device.subscribeAsync(topics.desired("cam-1"), { qos: 1 });
      const approved = await t.call<{ model: ModelVersion; deployment: { id: string; deviceIds: string[] } | null }>(
        "POST",
        `/api/v1/models/${model.id}/approve`,
        { body: { by: "qa-lead", reason: "looked at the confusion matrix" } },
      );
      expect(approved.status, JSON.stringify(approved.json)).toBe(200);
      expect(approved.json.model).toMatchObject({ stage: "approved", champion: true });
      expect(approved.json.deployment?.deviceIds).toEqual(["cam-1"]);
      expect((await watch.running(model.id)).pipelines[0]?.bundle?.modelVersionId).toBe(model.id);
    } finally {
      await device.endAsync(true);
    }
    const champion = await t.call<{ modelVersionId: string }>("GET", `/api/v1/projects/${projectId}/champion`);
    expect(champion.json.modelVersionId).toBe(model.id);
    const approvals = await t.call<{ items: Array<{ by: string; action: string; fromStage: string }> }>(
      "GET",
      `/api/v1/models/${model.id}/approvals`,
    );
    expect(approvals.json.items).toEqual([
      expect.objectContaining({ by: "qa-lead", action: "approve", fromStage: "candidate" }),
    ]);
    // the champion cannot be archived before another version is approved
    const archive = await t.call<{ error: { code: string } }>("POST", `/api/v1/models/${model.id}/archive`, {
      body: { by: "qa", reason: "tidy" },
    });
    expect(archive.json.error.code).toBe("KENSA_ERR_MODEL_STAGE_CONFLICT");
    const card = await t.call<string>("GET", `/api/v1/models/${model.id}/card`);
    expect(card.headers.get("content-type")).toMatch(/text\/markdown/);
    for (const section of ["## Intended use", "## Data", "## Training", "## Metrics", "## Gate", "## Limitations"]) {
      expect(card.json).toContain(section);
    }
    expect(card.json).toContain(run.snapshotId);
    expect(card.json).toContain("approve by qa-lead");
  });

  it("triggers: N new reviewed labels and a cron schedule start runs that record their trigger", async () => {
    const settings = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        triggers: { newLabels: 3 },
        defaults: { trainer: "good", input: { width: 64, height: 64, channels: 3 } },
      },
    });
    expect(settings.json.triggers).toEqual({ newLabels: 3, cron: null });
    const bad = await t.call<{ error: { code: string } }>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: { triggers: { cron: "every minute" } },
    });
    expect(bad.json.error.code).toBe("KENSA_ERR_CRON_INVALID");
    const samples = (
      await t.call<{ items: Array<{ id: string }> }>("GET", `/api/v1/projects/${projectId}/samples?limit=3`)
    ).json.items;
    for (const s of samples.slice(0, 2)) {
      await t.call("POST", `/api/v1/samples/${s.id}/labels`, { body: { by: "reviewer", status: "reviewed" } });
    }
    const runsOf = async () =>
      (await t.call<{ items: TrainingRun[] }>("GET", `/api/v1/projects/${projectId}/runs`)).json.items;
    const before = (await runsOf()).length;
    await t.hub.training.triggers.tick();
    expect((await runsOf()).length).toBe(before);
    await t.call("POST", `/api/v1/samples/${samples[2]!.id}/labels`, { body: { by: "reviewer", status: "reviewed" } });
    const byLabels = await waitFor("a label-triggered run", async () =>
      (await runsOf()).find((r) => r.trigger.type === "labels"),
    );
    expect(byLabels.trigger.detail).toMatch(/^3 new reviewed labels/);
    expect(byLabels.by).toBe("trigger:labels");
    expect((await waitForRun(t.call, byLabels.id)).status).toBe("succeeded");

    await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: { triggers: { newLabels: null, cron: "* * * * *" } },
    });
    await t.hub.training.triggers.tick(new Date(Date.now() + 120_000));
    const byCron = await waitFor("a scheduled run", async () =>
      (await runsOf()).find((r) => r.trigger.type === "schedule"),
    );
    expect(byCron.trigger.detail).toBe("* * * * *");
    await waitForRun(t.call, byCron.id);
    await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, { body: { triggers: { cron: null } } });
  });

  it("survives a restart: a queued run starts once the hub is back; a training one is failed, not resumed", async () => {
    const dir = t.dir;
    // a hub that stops while training stops the trainer and fails the run as interrupted
    const slow = (
      await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { trainer: "slow" } })
    ).json;
    await waitFor(
      "the slow run to train",
      async () => (await t.call<TrainingRun>("GET", `/api/v1/runs/${slow.id}`)).json.progress,
    );
    await t.hub.close();
    // a hub that runs no jobs queues runs; one of them we mark running, as a hub that died would leave it
    const idle = await startHub(config(0), { dir });
    expect((await idle.call<TrainingRun>("GET", `/api/v1/runs/${slow.id}`)).json).toMatchObject({
      status: "failed",
      error: { code: "KENSA_ERR_RUN_INTERRUPTED" },
    });
    const r = await idle.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { trainer: "good" } });
    const died = await idle.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, {
      body: { trainer: "good" },
    });
    expect(r.status).toBe(201);
    const db = idle.hub.store.db;
    await db.updateTable("jobs").set({ status: "running" }).where("ref_id", "=", died.json.id).execute();
    await db.updateTable("training_runs").set({ status: "running" }).where("id", "=", died.json.id).execute();
    await new Promise((res) => setTimeout(res, 300));
    expect((await idle.call<TrainingRun>("GET", `/api/v1/runs/${r.json.id}`)).json.status).toBe("queued");
    await idle.hub.close();
    t = await startHub(config(1), { dir });
    const done = await waitForRun(t.call, r.json.id);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect((await t.call<TrainingRun>("GET", `/api/v1/runs/${died.json.id}`)).json).toMatchObject({
      status: "failed",
      error: { code: "KENSA_ERR_RUN_INTERRUPTED", message: expect.stringMatching(/hub restarted/) },
    });
    await t.close();
    await dir.remove();
  });
});
