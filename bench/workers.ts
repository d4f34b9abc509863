/**
 * Worker throughput: the same queue of evaluate jobs (one model version scored on N snapshots of
 * one project) run by the hub itself, then by 1 and 2 `kensa worker` processes on this machine
 * against a hub with training.remote.localTraining and localEvaluation false.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { datasetRoutes, type Evaluation, registryRoutes, trainingRoutes, workerRoutes } from "@kensa/contracts";
import { createHub, type Hub, newWorkerToken } from "@kensa/hub";
import { createInspectionProject, pushBlemishModel, type ScenarioHub, startScenarioHub } from "@kensa/scenario";
import { renderFrame } from "@kensa/synth";
import { repoRoot, tempDir, waitFor } from "@kensa/testkit";
import { table } from "./report.js";

/** evaluate jobs queued per configuration; KENSA_BENCH_WORKER_EVALS changes it */
const EVALS = Number(process.env.KENSA_BENCH_WORKER_EVALS ?? 20);
/** labelled samples of the project (half of each snapshot is its test split); KENSA_BENCH_WORKER_SAMPLES */
const SAMPLES = Number(process.env.KENSA_BENCH_WORKER_SAMPLES ?? 120);
/** worker counts measured after the hub alone; KENSA_BENCH_WORKER_COUNTS=1,2 */
const COUNTS = (process.env.KENSA_BENCH_WORKER_COUNTS ?? "1,2").split(",").map(Number);

interface Measured {
  mode: string;
  workers: number;
  jobs: number;
  testImages: number;
  wallMs: number;
  perMinute: number;
  loadBefore: number[];
  loadAfter: number[];
}

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

export async function workersSection() {
  const rows: Measured[] = [await measure(0)];
  for (const n of COUNTS) rows.push(await measure(n));
  const base = rows[0]!.perMinute;
  const markdown = [
    `${EVALS} evaluate jobs, each the 64×64 blemish CNN (built in code) scored on the ~${Math.round(SAMPLES / 2)}-image`,
    "test split of its own snapshot (320×240 synthetic JPEGs, one ONNX Runtime thread per evaluation),",
    "queued at once on a SQLite hub; timed from the first request to the last evaluation stored.",
    '"hub" is the hub evaluating by itself (training.workers 1); the others are a hub with',
    "`training.remote.localTraining` and `localEvaluation` false and N `kensa worker` processes on the",
    "same machine, each fetching the model and images over HTTP through the job's blob route.",
    "",
    table(
      ["mode", "jobs", "test images/job", "wall s", "jobs/min", "vs hub", "load avg before (1/5/15 min)", "after"],
      rows.map((r) => [
        r.mode,
        r.jobs,
        r.testImages,
        Math.round(r.wallMs / 100) / 10,
        Math.round(r.perMinute * 10) / 10,
        `${Math.round((r.perMinute / base) * 100) / 100}×`,
        r.loadBefore.join(" / "),
        r.loadAfter.join(" / "),
      ]),
    ),
    "",
    `Machine: ${cpus()[0]?.model ?? "unknown"}, ${availableParallelism()} cores. The hub and its workers run on`,
    "these same cores: on 2 cores, two workers compete for the same CPUs with each other, with the hub",
    "serving their downloads and with whatever else runs on the machine (see the load averages), so the",
    "rows measure the protocol's overhead and the use of a second core of one machine, not what a second",
    "machine would add. The hub alone runs one evaluation at a time (its one job slot); each worker runs",
    "one. Training runs per hour are not measured here: this section keeps to evaluate jobs so that it",
    "runs in about a minute.",
  ].join("\n");
  return { markdown, data: rows };
}

async function measure(workers: number): Promise<Measured> {
  const dir = await tempDir(`kensa-bench-workers-${workers}-`);
  const made = newWorkerToken();
  let hub: ScenarioHub<Hub> | undefined;
  const procs: ChildProcess[] = [];
  try {
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      config: {
        training: {
          pollMs: 200,
          remote: {
            localTraining: workers === 0,
            localEvaluation: workers === 0,
            tokens: [{ name: "bench", sha256: made.sha256 }],
            leaseMs: 30_000,
          },
        },
      },
    });
    const api = hub.client;
    const project = await createInspectionProject(api, { slug: `bench-workers-${workers}` });
    const model = await pushBlemishModel(api, project.id);
    for (let k = 0; k < SAMPLES; k += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, SAMPLES - k) }, async (_, j) => {
          const f = await renderFrame(k + j, { seed: 11, width: 320, height: 240, defectRate: 0.4 });
          await api.call(datasetRoutes.uploadSample, {
            params: { id: project.id },
            query: { source: "synthetic", classes: f.defect ? "defect" : "ok", by: "bench" },
            upload: new Uint8Array(f.jpeg),
            contentType: "image/jpeg",
          });
        }),
      );
    }
    const snapshots: string[] = [];
    let testImages = 0;
    for (let k = 0; k < EVALS; k++) {
      const s = await api.call(datasetRoutes.createSnapshot, {
        params: { id: project.id },
        body: {
          seed: `bench-${k}`,
          ratios: { train: 0.4, val: 0.1, test: 0.5 },
          by: "bench",
          groupBucketSec: 3600,
          include: "labeled",
        },
      });
      snapshots.push(s.id);
      testImages += s.stats.splits.test.samples;
    }
    for (let w = 0; w < workers; w++) procs.push(startWorker(hub.httpUrl, made.token, join(dir.path, `worker-${w}`)));
    await waitFor(
      `${workers} workers to say hello`,
      async () => ((await api.call(workerRoutes.list)).items.length >= workers ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    // what the upload queued by itself (its gate's evaluation) is run before the clock starts
    await drained(hub, project.id);
    const loadBefore = load();
    const t0 = performance.now();
    const ids = new Set<string>();
    for (const snapshotId of snapshots) {
      ids.add((await api.call(registryRoutes.evaluate, { params: { id: model.id }, body: { snapshotId } })).id);
    }
    const done = await waitFor(
      `${ids.size} evaluations stored`,
      async () => {
        const items = (await api.call(registryRoutes.listEvaluations, { params: { id: model.id } })).items.filter(
          (e: Evaluation) => ids.has(e.id),
        );
        const failed = items.find((e) => e.status === "failed");
        if (failed) throw new Error(`evaluation ${failed.id} failed: ${failed.error?.code} ${failed.error?.message}`);
        return items.length === ids.size && items.every((e) => e.status === "succeeded") ? items : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 100 },
    );
    const wallMs = performance.now() - t0;
    const loadAfter = load();
    return {
      mode: workers === 0 ? "hub" : `${workers} worker${workers > 1 ? "s" : ""}`,
      workers,
      jobs: done.length,
      testImages: Math.round(testImages / EVALS),
      wallMs,
      perMinute: (done.length * 60_000) / wallMs,
      loadBefore,
      loadAfter,
    };
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once("exit", r)) : null)));
    await hub?.close();
    await dir.remove();
  }
}

/** A `kensa worker` child process that claims evaluate jobs only. */
function startWorker(hubUrl: string, token: string, dataDir: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(repoRoot, "apps/cli/src/main.ts"),
      "worker",
      ...["--hub", hubUrl, "--token", token, "--jobs", "evaluate", "--cuda", "no", "--data-dir", dataDir],
    ],
    { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] },
  );
  return child;
}

/** Waits until the project has no queued or running job. */
async function drained(hub: ScenarioHub<Hub>, projectId: string): Promise<void> {
  await waitFor(
    "the queue to drain",
    async () => {
      const jobs = (await hub.client.call(trainingRoutes.listJobs, { query: { projectId } })).items;
      return jobs.every((j) => j.status !== "queued" && j.status !== "running") ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
}
