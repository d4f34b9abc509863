import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { ApiError, type KensaClient } from "@kensa/client";
import { type WorkerCapabilities, type WorkerClaimReply, type WorkerHello, workerRoutes } from "@kensa/contracts";
import type { TrainerRegistry } from "@kensa/hub";
import { type BacktestOutcome, type BacktestRunDeps, runBacktest } from "./backtest-run.js";
import { type EvaluationOutcome, type EvaluationRunDeps, runEvaluation } from "./evaluation-run.js";
import { type ExportOutcome, type ExportRunDeps, runExportJob } from "./export-run.js";
import { type ImportOutcome, type ImportRunDeps, runImportJob } from "./import-run.js";
import { type JobOutcome, type JobRunDeps, runJob } from "./job-run.js";

export interface RemoteWorkerOptions {
  client: KensaClient;
  trainers: TrainerRegistry;
  trainerFailure: JobRunDeps["trainerFailure"];
  /** the hub's evaluation code, for evaluate jobs */
  evaluate: EvaluationRunDeps["evaluate"];
  evaluationError: EvaluationRunDeps["evaluationError"];
  /** the hub's replay and report code, for backtest jobs */
  backtest: Pick<BacktestRunDeps, "replay" | "report" | "backtestError">;
  /** the hub's import (prepare) and export (build) code, for import and export jobs */
  datasets: Pick<ImportRunDeps, "prepare" | "importer"> & Pick<ExportRunDeps, "build">;
  capabilities: WorkerCapabilities;
  /** where jobs' inputs and outputs live while they run */
  dataDir: string;
  say: (line: string) => void;
  /** stop after this many jobs (tests, one-shot machines); unlimited when omitted */
  maxJobs?: number;
}

/**
 * `kensa worker`: claims training, evaluate, backtest, dataset import and export jobs (those its capabilities list) from
 * a hub and runs them one at a time. Stopping
 * (SIGTERM) stops the trainer and gives its job back, so the hub queues it again at once.
 */
export class RemoteWorker {
  readonly workerId = `${hostname()
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 60)}-${process.pid}-${randomBytes(3).toString("hex")}`;
  #o: RemoteWorkerOptions;
  #stop = new AbortController();

  constructor(o: RemoteWorkerOptions) {
    this.#o = o;
  }

  stop(): void {
    this.#stop.abort();
  }

  /** Runs until stopped; answers how many jobs it ran. Throws when the hub refuses the token. */
  async run(): Promise<number> {
    const { client, say } = this.#o;
    const hello: WorkerHello = { workerId: this.workerId, capabilities: this.#o.capabilities };
    let timing = await client.call(workerRoutes.hello, { body: hello });
    const caps = this.#o.capabilities;
    say(
      `worker ${this.workerId}: ${caps.cpuCores} cores, ${caps.memoryMb} MiB, CUDA ${caps.cuda ? "yes" : "no"}, ` +
        `trainers ${caps.trainers.join(", ")}, jobs ${(caps.jobs ?? ["train"]).join(", ")}; lease ${timing.leaseMs} ms`,
    );
    let jobs = 0;
    let backoff = timing.pollMs;
    while (!this.#stop.signal.aborted && (this.#o.maxJobs === undefined || jobs < this.#o.maxJobs)) {
      try {
        const claimed = await client.call(workerRoutes.claim, { body: hello });
        const { job, evaluation, backtest } = claimed;
        backoff = timing.pollMs;
        if (claimed.import || claimed.export) {
          jobs++;
          await this.#dataset(claimed.import ?? null, claimed.export ?? null);
          continue;
        }
        if (backtest) {
          jobs++;
          say(
            `job ${backtest.jobId} (backtest ${backtest.backtestId} of model ${backtest.modelVersionId}, ` +
              `attempt ${backtest.attempt}): ${backtest.frames.length} frames`,
          );
          const outcome = await runBacktest(
            {
              client,
              ...this.#o.backtest,
              workerId: this.workerId,
              dir: join(this.#o.dataDir, "jobs", `${backtest.jobId}-${backtest.attempt}`),
              say,
            },
            backtest,
            this.#stop.signal,
          );
          say(`job ${backtest.jobId}: ${describeBacktest(outcome)}`);
          continue;
        }
        if (evaluation) {
          jobs++;
          say(
            `job ${evaluation.jobId} (evaluation ${evaluation.evaluationId} of model ${evaluation.modelVersionId}, ` +
              `attempt ${evaluation.attempt}): ${evaluation.items.length} test images`,
          );
          const outcome = await runEvaluation(
            {
              client,
              evaluate: this.#o.evaluate,
              evaluationError: this.#o.evaluationError,
              workerId: this.workerId,
              dir: join(this.#o.dataDir, "jobs", `${evaluation.jobId}-${evaluation.attempt}`),
              threads: 1,
              say,
            },
            evaluation,
            this.#stop.signal,
          );
          say(`job ${evaluation.jobId}: ${describeEvaluation(outcome)}`);
          continue;
        }
        if (!job) {
          await this.#sleep(timing.pollMs);
          continue;
        }
        jobs++;
        say(
          `job ${job.jobId} (run ${job.runId}, attempt ${job.attempt}): ${job.files.length} inputs, trainer ${job.trainer}`,
        );
        const outcome = await runJob(
          {
            client,
            trainers: this.#o.trainers,
            trainerFailure: this.#o.trainerFailure,
            workerId: this.workerId,
            dir: join(this.#o.dataDir, "jobs", `${job.jobId}-${job.attempt}`),
            say,
          },
          job,
          this.#stop.signal,
        );
        say(`job ${job.jobId}: ${describe(outcome)}`);
      } catch (err) {
        if (err instanceof ApiError && err.code === "KENSA_ERR_WORKER_TOKEN_INVALID") throw err;
        say(`worker: ${(err as Error).message}; trying again in ${backoff} ms`);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
        timing = await client.call(workerRoutes.hello, { body: hello }).catch(() => timing);
      }
    }
    return jobs;
  }

  /** Runs a claimed dataset import or export. */
  async #dataset(imp: WorkerClaimReply["import"] | null, exp: WorkerClaimReply["export"] | null): Promise<void> {
    const { client, say } = this.#o;
    const base = { client, workerId: this.workerId, say };
    const dir = (jobId: string, attempt: number) => join(this.#o.dataDir, "jobs", `${jobId}-${attempt}`);
    if (imp) {
      say(
        `job ${imp.jobId} (import ${imp.importId} into ${imp.project.slug}, attempt ${imp.attempt}): ${imp.options.format}`,
      );
      const outcome = await runImportJob(
        { ...base, ...this.#o.datasets, dir: dir(imp.jobId, imp.attempt) },
        imp,
        this.#stop.signal,
      );
      say(`job ${imp.jobId}: ${describeDataset(outcome)}`);
    } else if (exp) {
      say(
        `job ${exp.jobId} (export ${exp.exportId}, attempt ${exp.attempt}): ${exp.items.length} samples as ${exp.query.format}`,
      );
      const outcome = await runExportJob(
        { ...base, build: this.#o.datasets.build, dir: dir(exp.jobId, exp.attempt) },
        exp,
        this.#stop.signal,
      );
      say(`job ${exp.jobId}: ${describeDataset(outcome)}`);
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

function describeDataset(o: ImportOutcome | ExportOutcome): string {
  switch (o.kind) {
    case "stored": {
      const what =
        "items" in o
          ? `import ${o.reply.status}: ${o.items} item(s) prepared, ${o.failed} failed`
          : `export ${o.reply.status}: ${o.bytes} bytes`;
      return `${what}${o.error ? ` (${o.error.code})` : ""}${o.reply.duplicate ? " (already stored)" : ""}`;
    }
    case "released":
      return "stopped; given back to the queue";
    case "lost":
      return "the hub took the job back (lease lost); nothing more was sent";
  }
}

function describeBacktest(o: BacktestOutcome): string {
  switch (o.kind) {
    case "stored":
      return (
        `backtest ${o.reply.status}${o.error ? ` (${o.error.code})` : ""}` +
        `${o.missing ? `, ${o.missing} frame(s) gone from the hub` : ""}${o.reply.duplicate ? " (already stored)" : ""}`
      );
    case "released":
      return "stopped; given back to the queue";
    case "lost":
      return "the hub took the job back (lease lost); nothing more was sent";
  }
}

function describeEvaluation(o: EvaluationOutcome): string {
  switch (o.kind) {
    case "stored":
      return `evaluation ${o.reply.status}${o.error ? ` (${o.error.code})` : ""}${o.reply.duplicate ? " (already stored)" : ""}`;
    case "released":
      return "stopped; given back to the queue";
    case "lost":
      return "the hub took the job back (lease lost); nothing more was sent";
  }
}

function describe(o: JobOutcome): string {
  switch (o.kind) {
    case "completed":
      if (o.error) return `outputs refused: ${o.error.code}`;
      return `model version ${o.modelVersionId}${o.duplicate ? " (already registered)" : ""}`;
    case "failed":
      return `failed: ${o.code}`;
    case "released":
      return "stopped; given back to the queue";
    case "lost":
      return "the hub took the job back (lease lost); nothing more was sent";
  }
}
