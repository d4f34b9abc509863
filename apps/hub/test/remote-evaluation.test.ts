import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type {
  CreatedSnapshot,
  Evaluation,
  Job,
  ModelVersion,
  TrainingRun,
  TrainingSettings,
  WorkerClaimReply,
  WorkerInfo,
} from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWorkerToken } from "../src/jobs/worker-tokens.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";
import { STEADY_TRAINER, WorkerProcess } from "./remote-worker-fixtures.js";
import { modelsOf, uploadFrames, waitForGate, waitForRun } from "./training-fixtures.js";

/** Delays every blob download of a worker process: keeps it inside an evaluate job long enough to be killed there. */
const SLOW_BLOBS = `
const real = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.includes("/blobs/")) await new Promise((r) => setTimeout(r, 1500));
  return real(input, init);
};
`;

const list = await backends("remote-evaluation");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const CAPS = { cpuCores: 2, memoryMb: 4096, cuda: false, trainers: [], version: "test", jobs: ["evaluate"] };

/** what a model scored, without timings (a worker's latency is its own machine's) */
const scores = (m: Evaluation["metrics"]) => ({
  task: m?.task,
  samples: m?.samples,
  values: m?.values,
  perClass: m?.perClass,
  classification: m?.classification,
});

/**
 * A hub that neither trains nor evaluates (training.remote.localTraining and localEvaluation
 * false): `kensa worker` processes train its runs and evaluate its models, the gate stays on
 * the hub, and a worker that dies in an evaluation loses the job to another.
 */
describe.each(list)("evaluation on `kensa worker` processes ($name)", (backend) => {
  let files: TempDir;
  let t: TestHub;
  let projectId: string;
  let token: string;
  let workerArgs: string[];
  let slowPreload: string;
  let modelId: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    files = await tempDir("kensa-remote-evaluation-");
    const fake = join(files.path, "steady-trainer.mjs");
    await writeFile(fake, STEADY_TRAINER);
    slowPreload = join(files.path, "slow-blobs.mjs");
    await writeFile(slowPreload, SLOW_BLOBS);
    const blemish = buildBlemishModel();
    const onnx = join(files.path, "blemish.onnx");
    const manifest = join(files.path, "blemish.manifest.json");
    await writeFile(onnx, blemish.onnx);
    await writeFile(manifest, JSON.stringify(blemish.manifest));
    const trainers = { quick: { command: [process.execPath, fake, "0.4", onnx, manifest] } };
    const made = newWorkerToken();
    token = made.token;
    t = await startHub({
      database: backend.database(),
      training: {
        workers: 1,
        pollMs: 100,
        leaseMs: 2000,
        trainers,
        remote: {
          localTraining: false,
          localEvaluation: false,
          tokens: [{ name: "eval-workers", sha256: made.sha256 }],
          leaseMs: 3000,
        },
      },
    });
    workerArgs = ["--hub", t.httpUrl, "--token", token, "--trainers", JSON.stringify(trainers), "--cuda", "no"];
    projectId = (await seed(t.call, "remote-eval", [{ id: "cam-1", tags: ["line-1"] }])).projectId;
    await uploadFrames(t.call, projectId, 24, { seed: 7, width: 96, height: 72, defectRate: 0.5 });
    const put = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: { gate: { latencyBudgetMs: 10_000 } },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) w.kill("SIGKILL");
    await t?.close();
    await files?.remove();
  });

  const startWorker = (n: number, env: Record<string, string> = {}) => {
    const w = new WorkerProcess([...workerArgs, "--data-dir", join(files.path, `worker-${n}`)], env);
    workers.push(w);
    return w;
  };
  const evaluationsOf = async (id: string) =>
    (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${id}/evaluations`)).json.items;
  const evaluateJobs = async () =>
    (await t.call<{ items: Job[] }>("GET", `/api/v1/jobs?projectId=${projectId}&type=evaluate`)).json.items;
  /** the hub's own evaluation code on its own blob store: what a local evaluation stores */
  const localScores = async (id: string, snapshotId: string) => {
    const model = (await t.call<ModelVersion>("GET", `/api/v1/models/${id}`)).json;
    return scores(await t.hub.training.evaluations.compute(model, snapshotId));
  };
  const asWorker = <T>(method: string, path: string, body?: unknown) =>
    t.call<T>(method, `/api/v1/workers${path}`, { auth: `Bearer ${token}`, ...(body ? { body } : {}) });

  it("a run trains on a worker, its evaluation runs on a worker, and the gate decides on it", async () => {
    const w = startWorker(1);
    const run = (
      await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { trainer: "quick" } })
    ).json;
    const done = await waitForRun(t.call, run.id, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${w.out}`);
    });
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    modelId = done.modelVersionId!;
    const gate = await waitForGate(t.call, modelId, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${w.out}`);
    });
    expect(gate.snapshotId).toBe(run.snapshotId);
    expect(["auto_approved", "awaiting_approval", "rejected"]).toContain(gate.decision);
    // one evaluation, stored from the worker's result: its job was claimed by the worker process
    const evals = await evaluationsOf(modelId);
    expect(evals).toHaveLength(1);
    expect(evals[0]).toMatchObject({ status: "succeeded", snapshotId: run.snapshotId });
    const jobs = (await evaluateJobs()).filter((j) => j.refId === evals[0]!.id);
    expect(jobs.map((j) => j.status)).toEqual(["succeeded"]);
    expect(w.out).toContain(`evaluation ${evals[0]!.id} of model ${modelId}`);
    expect(w.out).toMatch(/evaluation succeeded/);
    // the same scores the hub computes itself for this model and snapshot
    expect(evals[0]!.metrics!.samples).toBeGreaterThan(0);
    expect(Object.keys(evals[0]!.metrics!.values).length).toBeGreaterThan(0);
    expect(scores(evals[0]!.metrics)).toEqual(await localScores(modelId, run.snapshotId));
    expect((await modelsOf(t.call, projectId)).map((m) => m.id)).toEqual([modelId]);
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 120_000);

  it("a worker killed in an evaluation loses it after the lease; another finishes it, stored once", async () => {
    expect(modelId).toBeTruthy();
    // a new snapshot, so the model has a second evaluation to run
    const snap = await t.call<CreatedSnapshot>("POST", `/api/v1/projects/${projectId}/snapshots`, {
      body: { seed: "remote-evaluation", ratios: { train: 0.4, val: 0.1, test: 0.5 } },
    });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    const snapshotId = snap.json.id;
    const victim = startWorker(2, { NODE_OPTIONS: `--import=${pathToFileURL(slowPreload).href}` });
    const victimId = await victim.id();
    const asked = await t.call<Evaluation>("POST", `/api/v1/models/${modelId}/evaluations`, { body: { snapshotId } });
    expect(asked.status, JSON.stringify(asked.json)).toBeLessThan(300);
    const evaluationId = asked.json.id;
    await waitFor("the victim to claim the evaluation", async () => victim.out.includes(`evaluation ${evaluationId}`), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    victim.kill("SIGKILL");
    await victim.exited;
    const job = (await evaluateJobs()).find((j) => j.refId === evaluationId)!;
    expect(job.status).toBe("running");

    // after the lease, the job is queued again: a hand-driven worker claims it, reads a blob, gives it back
    const hello = { workerId: "by-hand", capabilities: CAPS };
    const claimed = await waitFor(
      "the job to be claimable again",
      async () => (await asWorker<WorkerClaimReply>("POST", "/claim", hello)).json.evaluation ?? null,
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(claimed).toMatchObject({ jobId: job.id, attempt: 2, evaluationId, snapshotId, modelVersionId: modelId });
    expect(claimed.items.length).toBeGreaterThan(0);
    const q = `?workerId=by-hand&attempt=2`;
    const model = await fetch(`${t.httpUrl}/api/v1/workers/jobs/${job.id}/blobs/${claimed.model.sha256}${q}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(model.status).toBe(200);
    expect(
      createHash("sha256")
        .update(new Uint8Array(await model.arrayBuffer()))
        .digest("hex"),
    ).toBe(claimed.model.sha256);
    // a blob the evaluation does not read is not served, whatever the blob store holds
    const other = await asWorker<{ error: { code: string } }>("GET", `/jobs/${job.id}/blobs/${"0".repeat(64)}${q}`);
    expect(other.json.error.code).toBe("KENSA_ERR_BLOB_NOT_FOUND");
    const released = await asWorker("POST", `/jobs/${job.id}/release`, { workerId: "by-hand", attempt: 2 });
    expect(released.status).toBe(204);

    const rescuer = startWorker(3);
    const stored = await waitFor(
      "the evaluation to be stored",
      async () => {
        const e = (await evaluationsOf(modelId)).find((x) => x.id === evaluationId);
        return e?.status === "succeeded" || e?.status === "failed" ? e : null;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the rescuer said:\n${rescuer.out}`);
    });
    expect(stored.status, JSON.stringify(stored.error)).toBe("succeeded");
    expect(rescuer.out).toContain(`evaluation ${evaluationId}`);
    expect(scores(stored.metrics)).toEqual(await localScores(modelId, snapshotId));
    const after = (await evaluateJobs()).filter((j) => j.refId === evaluationId);
    expect(after.map((j) => [j.status, j.attempts])).toEqual([["succeeded", 3]]);
    expect((await evaluationsOf(modelId)).filter((e) => e.snapshotId === snapshotId)).toHaveLength(1);

    // late results of the dead worker and of the hand-driven one are refused; the stored one stays
    const late = { metrics: { ...stored.metrics!, samples: 999 }, error: null };
    for (const [workerId, attempt] of [
      [victimId, 1],
      ["by-hand", 2],
    ] as const) {
      const r = await asWorker<{ error: { code: string } }>("POST", `/jobs/${job.id}/evaluation`, {
        ...late,
        workerId,
        attempt,
      });
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe("KENSA_ERR_WORKER_LEASE_LOST");
    }
    const kept = (await t.call<Evaluation>("GET", `/api/v1/evaluations/${evaluationId}`)).json;
    expect(kept.metrics?.samples).toBe(stored.metrics?.samples);
    const listed = (await t.call<{ items: WorkerInfo[] }>("GET", "/api/v1/workers")).json.items;
    expect(listed.find((x) => x.workerId === victimId)?.capabilities.jobs).toEqual([
      "train",
      "evaluate",
      "backtest",
      "import",
      "export",
    ]);
  }, 120_000);
});
