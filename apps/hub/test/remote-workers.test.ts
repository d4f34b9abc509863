import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Job, TrainingRun, TrainingSettings, WorkerClaimReply } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWorkerToken } from "../src/jobs/worker-tokens.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";
import { STEADY_TRAINER, WorkerProcess } from "./remote-worker-fixtures.js";
import { modelsOf, uploadFrames, waitForGate, waitForRun } from "./training-fixtures.js";

const list = await backends("remote-workers");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const CAPS = { cpuCores: 2, memoryMb: 4096, cuda: false, trainers: ["builtin", "cudaonly"], version: "test" };

describe.each(list)("training on `kensa worker` processes ($name)", (backend) => {
  let files: TempDir;
  let t: TestHub;
  let projectId: string;
  let token: string;
  let workerArgs: string[];
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    files = await tempDir("kensa-remote-workers-");
    const fake = join(files.path, "steady-trainer.mjs");
    await writeFile(fake, STEADY_TRAINER);
    const blemish = buildBlemishModel();
    const onnx = join(files.path, "blemish.onnx");
    const manifest = join(files.path, "blemish.manifest.json");
    await writeFile(onnx, blemish.onnx);
    await writeFile(manifest, JSON.stringify(blemish.manifest));
    const trainers = {
      quick: { command: [process.execPath, fake, "0.6", onnx, manifest] },
      long: { command: [process.execPath, fake, "60", onnx, manifest] },
      cudaonly: { command: [process.execPath, fake, "0.2", onnx, manifest] },
    };
    const t1 = newWorkerToken();
    token = t1.token;
    t = await startHub({
      database: backend.database(),
      training: {
        // one local job slot for evaluation and the gate; training itself only on workers
        workers: 1,
        pollMs: 100,
        killGraceMs: 2000,
        // short local leases: the hub's own recovery sweep (every half lease) re-queues a dead worker's job promptly
        leaseMs: 2000,
        trainers,
        remote: {
          localTraining: false,
          tokens: [{ name: "test-workers", sha256: t1.sha256 }],
          leaseMs: 3000,
          requirements: { cudaonly: { cuda: true } },
        },
      },
    });
    workerArgs = ["--hub", t.httpUrl, "--token", token, "--trainers", JSON.stringify(trainers), "--cuda", "no"];
    projectId = (await seed(t.call, "remote-runs", [{ id: "cam-1", tags: ["line-1"] }])).projectId;
    await uploadFrames(t.call, projectId, 24, { seed: 5, width: 96, height: 72, defectRate: 0.5 });
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

  const startWorker = (n: number) => {
    const w = new WorkerProcess([...workerArgs, "--data-dir", join(files.path, `worker-${n}`)]);
    workers.push(w);
    return w;
  };
  const startRun = async (trainer: string) => {
    const r = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { trainer } });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json;
  };
  const jobOf = async (runId: string) => {
    const jobs = await t.call<{ items: Job[] }>("GET", `/api/v1/jobs?projectId=${projectId}&type=train`);
    return jobs.json.items.find((j) => j.refId === runId)!;
  };
  const worker = (auth: string | null = `Bearer ${token}`) => ({
    post: <T>(path: string, body: unknown) => t.call<T>("POST", `/api/v1/workers${path}`, { body, auth }),
  });

  it("refuses a wrong worker token with a coded error, over HTTP and from `kensa worker`", async () => {
    const hello = { workerId: "w-bad", capabilities: CAPS };
    for (const auth of [null, `Bearer ${t.hub.adminToken}`, `Bearer ${newWorkerToken().token}`]) {
      const r = await worker(auth).post<{ error: { code: string } }>("/claim", hello);
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe("KENSA_ERR_WORKER_TOKEN_INVALID");
    }
    const bad = new WorkerProcess(["--hub", t.httpUrl, "--token", newWorkerToken().token, "--cuda", "no"]);
    expect(await bad.exited).toBe(1);
    expect(bad.out).toContain("error KENSA_ERR_WORKER_TOKEN_INVALID: unknown or revoked worker token");
  }, 60_000);

  it("a run trains on a worker process, not the hub; its model goes through the gate", async () => {
    const run = await startRun("quick");
    // the hub trains nothing itself: without a worker the run stays queued
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.call<TrainingRun>("GET", `/api/v1/runs/${run.id}`)).json.status).toBe("queued");
    const w = startWorker(1);
    const done = await waitForRun(t.call, run.id, 60_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.trainer.version).toBe("steady/1");
    expect(done.progress?.fraction).toBe(1);
    const models = await modelsOf(t.call, projectId);
    expect(models.filter((m) => m.lineage?.runId === run.id)).toHaveLength(1);
    const gate = await waitForGate(t.call, done.modelVersionId!);
    expect(gate.snapshotId).toBe(run.snapshotId);
    const log = await t.call<string>("GET", `/api/v1/runs/${run.id}/log`);
    expect(log.json).toContain(`claimed by worker ${await w.id()}`);
    expect(log.json).toContain('"type":"step"');
    expect(log.json).toContain(`[kensa] run succeeded: model version ${done.modelVersionId}`);
    const listed = await t.call<{ items: Array<{ workerId: string; capabilities: { cuda: boolean } }> }>(
      "GET",
      "/api/v1/workers",
    );
    expect(
      listed.json.items.find((i) => i.workerId === (w as WorkerProcess).out.match(/worker (\S+):/)?.[1]),
    ).toMatchObject({
      capabilities: { cuda: false },
    });
    // SIGTERM with nothing running: the worker stops cleanly
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 90_000);

  it("a worker SIGKILLed mid-run: the job is re-queued after its lease, a second worker completes it, one model version", async () => {
    const before = (await modelsOf(t.call, projectId)).length;
    const run = await startRun("long");
    const a = startWorker(2);
    const idA = await a.id();
    await waitFor(
      "the run to train on worker A",
      async () => {
        const r = (await t.call<TrainingRun>("GET", `/api/v1/runs/${run.id}`)).json;
        return r.status === "running" && (r.progress?.step ?? 0) >= 2 ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    a.kill("SIGKILL");
    await a.exited;
    // no renewals any more: once the lease (3 s) ran out the job is queued again, its run too
    const requeued = await waitFor(
      "the job to be re-queued",
      async () => {
        const j = await jobOf(run.id);
        return j.status === "queued" ? j : null;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(requeued.attempts).toBe(1);
    // worker A's late reports are refused and register nothing
    const late = await worker().post<{ error: { code: string } }>(`/jobs/${requeued.id}/complete`, {
      workerId: idA,
      attempt: 1,
      outputs: {},
    });
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("KENSA_ERR_WORKER_LEASE_LOST");

    // a quick trainer for the second attempt: the run keeps its trainer, so swap the job's worker config
    const b = new WorkerProcess([
      ...workerArgs.slice(0, 4),
      "--trainers",
      JSON.stringify({ long: JSON.parse(workerArgs[5]!).quick }),
      "--cuda",
      "no",
      "--data-dir",
      join(files.path, "worker-3"),
    ]);
    workers.push(b);
    const done = await waitForRun(t.call, run.id, 60_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    const job = await jobOf(run.id);
    expect(job).toMatchObject({ status: "succeeded", attempts: 2 });
    const idB = await b.id();
    // a repeated completion answers the same version and registers nothing
    const again = await worker().post<{ modelVersionId: string; duplicate: boolean }>(`/jobs/${job.id}/complete`, {
      workerId: idB,
      attempt: 2,
      outputs: {},
    });
    expect(again.status, JSON.stringify(again.json)).toBe(200);
    expect(again.json).toMatchObject({ modelVersionId: done.modelVersionId, duplicate: true });
    const models = await modelsOf(t.call, projectId);
    expect(models).toHaveLength(before + 1);
    expect(models.filter((m) => m.lineage?.runId === run.id).map((m) => m.id)).toEqual([done.modelVersionId]);
    const log = (await t.call<string>("GET", `/api/v1/runs/${run.id}/log`)).json;
    expect(log).toContain(`attempt 1: claimed by worker ${idA}`);
    expect(log).toMatch(/attempt 1 ended: its worker stopped renewing the lease/);
    expect(log).toContain(`attempt 2: claimed by worker ${idB}`);
    b.kill("SIGTERM");
    expect(await b.exited).toBe(0);
  }, 120_000);

  it("SIGTERM stops the trainer and gives the job back at once, without waiting for the lease", async () => {
    const run = await startRun("long");
    const w = startWorker(4);
    await waitFor(
      "the run to train",
      async () => ((await t.call<TrainingRun>("GET", `/api/v1/runs/${run.id}`)).json.progress?.step ?? 0) >= 1,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const at = Date.now();
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    const j = await jobOf(run.id);
    expect(j).toMatchObject({ status: "queued", attempts: 1 });
    expect(Date.now() - at).toBeLessThan(3000 + 2000);
    expect((await t.call<TrainingRun>("GET", `/api/v1/runs/${run.id}`)).json.status).toBe("queued");
    expect(w.out).toContain("stopped; given back to the queue");
    const cancelled = await t.call<TrainingRun>("POST", `/api/v1/runs/${run.id}/cancel`, { body: {} });
    expect(cancelled.json.status).toBe("cancelled");
  }, 60_000);

  it("cancelling a run a worker trains stops its trainer there; the run ends cancelled, no model", async () => {
    const before = (await modelsOf(t.call, projectId)).length;
    const run = await startRun("long");
    const w = startWorker(5);
    await waitFor(
      "the run to train",
      async () => ((await t.call<TrainingRun>("GET", `/api/v1/runs/${run.id}`)).json.progress?.step ?? 0) >= 1,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const r = await t.call<TrainingRun>("POST", `/api/v1/runs/${run.id}/cancel`, { body: {} });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const done = await waitForRun(t.call, run.id, 30_000);
    expect(done.status).toBe("cancelled");
    expect(done.error?.code).toBe("KENSA_ERR_TRAINER_CANCELLED");
    expect(await jobOf(run.id)).toMatchObject({ status: "cancelled", attempts: 1 });
    expect((await modelsOf(t.call, projectId)).length).toBe(before);
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(w.out).toContain("failed: KENSA_ERR_TRAINER_CANCELLED");
  }, 60_000);

  it("a job whose trainer requires CUDA is not claimed by a CPU-only worker", async () => {
    const run = await startRun("cudaonly");
    const cpu = await worker().post<WorkerClaimReply>("/claim", { workerId: "cpu-1", capabilities: CAPS });
    expect(cpu.status, JSON.stringify(cpu.json)).toBe(200);
    expect(cpu.json.job).toBeNull();
    const gpu = await worker().post<WorkerClaimReply>("/claim", {
      workerId: "gpu-1",
      capabilities: { ...CAPS, cuda: true },
    });
    expect(gpu.json.job).toMatchObject({ runId: run.id, attempt: 1, trainer: "cudaonly" });
    expect(gpu.json.job!.files.length).toBeGreaterThan(0);
    expect(gpu.json.job!.spec.samples[0]!.path).toMatch(/^data\//);
    const released = await t.call("POST", `/api/v1/workers/jobs/${gpu.json.job!.jobId}/release`, {
      body: { workerId: "gpu-1", attempt: 1 },
      auth: `Bearer ${token}`,
    });
    expect(released.status).toBe(204);
    await t.call("POST", `/api/v1/runs/${run.id}/cancel`, { body: {} });
  }, 30_000);
});
