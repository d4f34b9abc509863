import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import {
  compile,
  isKensaError,
  KensaError,
  type RunProgress,
  TrainerProgress,
  type WorkerBacktestJob,
  type WorkerBacktestReply,
  type WorkerBacktestResult,
  type WorkerClaimReply,
  type WorkerHello,
  type WorkerInfo,
  type WorkerJob,
  type WorkerProgress,
} from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { RemoteWorkersConfig } from "../config/remote-workers-config.js";
import type { SnapshotService } from "../datasets/snapshot-service.js";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import { type JobRow, RemoteClaims, remoteHolder } from "../jobs/remote-claims.js";
import type { RemoteJobKind } from "../jobs/remote-job-kind.js";
import { WorkerTokens } from "../jobs/worker-tokens.js";
import type { EvaluationService } from "../registry/evaluation/evaluation-service.js";
import type { ModelService } from "../registry/model-service.js";
import { SerialQueue } from "../serial-queue.js";
import { materializeJob } from "./materialize-job.js";
import { RemoteEvaluation } from "./remote-evaluation.js";
import { RemoteOutcomes } from "./remote-outcomes.js";
import type { RunService } from "./run-service.js";
import { nextProgress } from "./train-handler.js";
import { workerJobCopy } from "./worker-job-copy.js";

const checkLine = compile(TrainerProgress);
/** ms after which a worker that stopped calling is no longer listed */
const FORGET_AFTER_MS = 10 * 60_000;
/** claims of one run by workers before the hub gives up on it (a run that crashes every worker it lands on) */
export const MAX_REMOTE_ATTEMPTS = 5;

export interface RemoteTrainingDeps {
  db: Kysely<HubDatabase>;
  config: RemoteWorkersConfig;
  pollMs: number;
  runs: RunService;
  snapshots: SnapshotService;
  blobs: BlobStore;
  models: ModelService;
  /** evaluations workers run (those that advertise "evaluate") */
  evaluations: EvaluationService;
  queue: JobQueue;
  log: FastifyBaseLogger;
  /** wake this hub's own job worker (a re-queued job may be trained here, the gate runs here) */
  kick: () => void;
}

/**
 * Backtest jobs handed to workers, as the backtest feature implements them
 * (backtest/remote-backtest.ts): staged at the claim, their blobs served, their end recorded once.
 */
export interface RemoteBacktests {
  stage(row: JobRow, attempt: number): Promise<WorkerBacktestJob | null>;
  /** `row` is held by the caller's attempt */
  blob(row: JobRow, attempt: number, sha256: string): Promise<{ stream: Readable; size: number }>;
  complete(jobId: string, holder: string, body: WorkerBacktestResult): Promise<WorkerBacktestReply>;
  release(jobId: string, holder: string, attempt: number): Promise<void>;
  requeued(row: JobRow, why: string): Promise<void>;
}

/**
 * The hub's half of `kensa worker`: claims training, evaluate and backtest jobs for remote
 * workers, stages their inputs, takes their progress and log lines into the run as a local
 * trainer's would be, and (remote-outcomes.ts) records how the attempt ended. A claim is a lease the worker renews; a
 * worker that goes silent loses the job, which is queued again, never failed.
 */
export class RemoteTraining {
  readonly tokens: WorkerTokens;
  readonly claims: RemoteClaims;
  readonly outcomes: RemoteOutcomes;
  readonly evaluation: RemoteEvaluation;
  #d: RemoteTrainingDeps;
  #workers = new Map<string, WorkerInfo>();
  #progress = new Map<string, RunProgress | null>();
  #writes = new Map<string, SerialQueue>();
  /** jobs handed out by this replica, and those a person cancelled (told at the worker's next call) */
  #held = new Set<string>();
  #cancelled = new Set<string>();
  #backtests: RemoteBacktests | null = null;
  /** other kinds workers run (dataset imports and exports), by job type */
  #kinds = new Map<string, RemoteJobKind>();

  constructor(d: RemoteTrainingDeps) {
    this.#d = d;
    this.tokens = new WorkerTokens(d.config.tokens);
    this.claims = new RemoteClaims(d.db, d.config.leaseMs);
    this.outcomes = new RemoteOutcomes({
      ...d,
      claims: this.claims,
      appendLog: (runId, lines) => this.appendLog(runId, lines),
      logBytes: (runId) => this.logBytes(runId),
      forget: (jobId) => this.#forget(jobId),
    });
    this.evaluation = new RemoteEvaluation({
      db: d.db,
      claims: this.claims,
      evaluations: d.evaluations,
      blobs: d.blobs,
      log: d.log,
      leaseMs: d.config.leaseMs,
      maxAttempts: MAX_REMOTE_ATTEMPTS,
      kick: d.kick,
      forget: (jobId) => this.#forget(jobId),
    });
  }

  /** Lets workers that list "backtest" claim backtest jobs (the backtest feature attaches itself). */
  attachBacktests(b: RemoteBacktests): void {
    this.#backtests = b;
  }

  /** Lets workers that list `kind.type` claim its jobs (dataset imports and exports attach themselves). */
  attachKind(kind: RemoteJobKind): void {
    this.#kinds.set(kind.type, kind);
  }

  /** the attached kind of a job type; null for training, evaluate and backtest jobs */
  kindOf(type: string): RemoteJobKind | null {
    return this.#kinds.get(type) ?? null;
  }

  /** the backtest half; KENSA_ERR_VALIDATION when none is attached (no backtest job can be held then) */
  get backtests(): RemoteBacktests {
    if (!this.#backtests) throw new KensaError("KENSA_ERR_VALIDATION", "this hub hands no backtest to workers");
    return this.#backtests;
  }

  /** One blob a held evaluate or backtest attempt reads, as a stream with its size. */
  async blob(jobId: string, holder: string, attempt: number, sha256: string) {
    const row = await this.claims.held(jobId, holder, attempt);
    if (row.type === "backtest") return this.backtests.blob(row, attempt, sha256);
    const kind = this.#kinds.get(row.type);
    if (kind) return kind.blob(row, attempt, sha256);
    return this.evaluation.blob(jobId, holder, attempt, sha256);
  }

  /** the job left its worker (ended, given back, taken away) */
  forgetJob(jobId: string): void {
    this.#forget(jobId);
  }

  get leaseReply(): { leaseMs: number; pollMs: number } {
    return { leaseMs: this.#d.config.leaseMs, pollMs: this.#d.pollMs };
  }

  /** records a worker's heartbeat and capabilities */
  hello(token: string, hello: WorkerHello): void {
    const holder = remoteHolder(token, hello.workerId);
    const now = Date.now();
    const prev = this.#workers.get(holder);
    this.#workers.set(holder, {
      workerId: hello.workerId,
      token,
      capabilities: hello.capabilities,
      lastSeenAt: new Date(now).toISOString(),
      jobs: prev?.jobs ?? [],
    });
    for (const [k, w] of this.#workers) if (now - Date.parse(w.lastSeenAt) > FORGET_AFTER_MS) this.#workers.delete(k);
  }

  list(): WorkerInfo[] {
    return [...this.#workers.values()];
  }

  /**
   * The oldest queued job of the kinds this worker runs (training only, unless its capabilities
   * list others) that it can run, claimed and staged; or none.
   */
  async claim(token: string, hello: WorkerHello): Promise<WorkerClaimReply> {
    this.hello(token, hello);
    // a job whose worker went silent is claimable again at once, not only at the next sweep
    await this.requeueExpired();
    const holder = remoteHolder(token, hello.workerId);
    const kinds = (hello.capabilities.jobs ?? ["train"]).filter((k) =>
      k === "backtest" ? this.#backtests : k === "import" || k === "export" ? this.#kinds.has(k) : true,
    );
    const row = await this.claims.claim(holder, kinds, async (job) =>
      job.type === "train" ? this.#fits(job, hello) : (this.#kinds.get(job.type)?.fits(job) ?? true),
    );
    if (!row) return { job: null, evaluation: null, backtest: null };
    const attempt = Number(row.attempts);
    this.#held.add(row.id);
    const worker = this.#workers.get(holder);
    if (worker) worker.jobs = [...worker.jobs, row.id];
    if (row.type === "evaluate") {
      return { job: null, evaluation: await this.evaluation.stage(row, attempt), backtest: null };
    }
    if (row.type === "backtest") {
      return { job: null, evaluation: null, backtest: await this.backtests.stage(row, attempt) };
    }
    const kind = this.#kinds.get(row.type);
    if (kind) return { job: null, evaluation: null, backtest: null, [kind.replyKey]: await kind.stage(row, attempt) };
    return {
      job: await this.#claimedRun(row, attempt, token, hello.workerId, holder),
      evaluation: null,
      backtest: null,
    };
  }

  async #claimedRun(row: JobRow, attempt: number, token: string, workerId: string, holder: string) {
    if (attempt > MAX_REMOTE_ATTEMPTS) {
      const error = {
        code: "KENSA_ERR_RUN_INTERRUPTED",
        message: `the run was claimed ${attempt - 1} times by workers and never finished; start it again once the cause is fixed (see its log)`,
      };
      await this.outcomes.fail(row.id, holder, attempt, { error, exitCode: null });
      return null;
    }
    try {
      return await this.#stage(row, attempt, token, workerId);
    } catch (err) {
      // the run cannot be trained anywhere (too little data, a missing image): fail it here
      const error = isKensaError(err)
        ? { code: err.code, message: err.message }
        : { code: "KENSA_ERR_INTERNAL", message: String(err) };
      await this.outcomes.fail(row.id, holder, attempt, { error, exitCode: null });
      return null;
    }
  }

  /** Whether this worker can run the job: a queued run, a trainer it has, the trainer's requirements met. */
  async #fits(job: JobRow, hello: WorkerHello): Promise<boolean> {
    const run = await this.#d.runs.get(job.ref_id).catch(() => null);
    if (run?.status !== "queued") return false;
    const caps = hello.capabilities;
    if (!caps.trainers.includes(run.trainer.name)) return false;
    const need = this.#d.config.requirements[run.trainer.name];
    if (!need) return true;
    if (need.cuda && !caps.cuda) return false;
    if (need.minCpuCores && caps.cpuCores < need.minCpuCores) return false;
    if (need.minMemoryMb && caps.memoryMb < need.minMemoryMb) return false;
    return true;
  }

  /**
   * Materialises the snapshot into the run's folder on the hub, as a local run does, and
   * answers the spec with paths relative to the worker's job folder.
   */
  async #stage(row: JobRow, attempt: number, token: string, workerId: string): Promise<WorkerJob> {
    const { runs } = this.#d;
    const run = await runs.get(row.ref_id);
    await runs.started(run.id);
    const dir = resolve(runs.dir(run.id));
    // the log is kept across attempts, so it tells of a worker that died; data and outputs are not
    await rm(join(dir, "data"), { recursive: true, force: true });
    await rm(join(dir, "out"), { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    this.#progress.delete(row.id);
    await this.appendLog(run.id, [
      `[kensa] run ${run.id}: ${run.params.task} on snapshot ${run.snapshotId}, trainer ${run.trainer.name}`,
      `[kensa] attempt ${attempt}: claimed by worker ${workerId} (token ${token})`,
    ]);
    const manifest = await this.#d.snapshots.manifest(run.snapshotId);
    const { job, data } = await materializeJob({
      runId: run.id,
      manifest,
      params: run.params,
      blobs: this.#d.blobs,
      dir,
    });
    await runs.update(run.id, { data });
    await this.appendLog(run.id, [
      `[kensa] data: ${data.train} train, ${data.val} val, ${data.test} test, ${data.skipped.length} left out`,
    ]);
    const imageSha = new Map(manifest.items.map((i) => [i.sampleId, i.image.sha256]));
    const { spec, files } = await workerJobCopy(job, imageSha, this.#d.blobs);
    return {
      jobId: row.id,
      attempt,
      runId: run.id,
      trainer: run.trainer.name,
      leaseMs: this.#d.config.leaseMs,
      spec,
      files,
    };
  }

  /**
   * Asks the worker training `jobId` to stop: its next renewal or report is answered
   * KENSA_ERR_TRAINER_CANCELLED, it stops the trainer and fails the job as cancelled. False when
   * this replica did not hand the job out (the person is told to cancel where it runs).
   */
  cancel(jobId: string): boolean {
    if (!this.#held.has(jobId)) return false;
    this.#cancelled.add(jobId);
    return true;
  }

  /** extends the lease, unless the run was cancelled meanwhile */
  async renew(jobId: string, holder: string, attempt: number): Promise<void> {
    await this.claims.renew(jobId, holder, attempt);
    this.#throwIfCancelled(jobId);
  }

  #throwIfCancelled(jobId: string): void {
    if (this.#cancelled.has(jobId)) {
      throw new KensaError("KENSA_ERR_TRAINER_CANCELLED", "the run was cancelled; stop the trainer and report it");
    }
  }

  /** The path of one staged input of a held job. */
  async file(jobId: string, holder: string, attempt: number, name: string): Promise<string> {
    const row = await this.claims.held(jobId, holder, attempt);
    const path = join(resolve(this.#d.runs.dir(row.ref_id)), "data", basename(name));
    return path;
  }

  /** Stores one output in the blob store (content-addressed: a repeated upload stores nothing new). */
  async output(jobId: string, holder: string, attempt: number, bytes: Uint8Array) {
    await this.claims.held(jobId, holder, attempt);
    const info = await this.#d.blobs.put(bytes);
    return { sha256: info.sha256, size: info.size };
  }

  /** Appends the worker's lines to the run's log and applies its progress lines; also renews the lease. */
  async progress(jobId: string, holder: string, body: WorkerProgress): Promise<void> {
    await this.claims.renew(jobId, holder, body.attempt);
    const row = await this.claims.held(jobId, holder, body.attempt);
    this.#throwIfCancelled(jobId);
    const runId = row.ref_id;
    await this.appendLog(
      runId,
      body.lines.map((l) => (l.stream === "stderr" ? `[stderr] ${l.text}` : l.text)),
    );
    let prev = this.#progress.has(jobId) ? this.#progress.get(jobId)! : (await this.#d.runs.get(runId)).progress;
    let trainerVersion: string | undefined;
    for (const l of body.lines) {
      if (l.stream !== "stdout") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(l.text);
      } catch {
        continue;
      }
      if (!checkLine.check(parsed)) continue;
      if (parsed.type === "start") trainerVersion = parsed.trainer;
      prev = nextProgress(prev, parsed) ?? prev;
    }
    this.#progress.set(jobId, prev);
    if (prev) await this.#d.runs.update(runId, { progress: prev, ...(trainerVersion ? { trainerVersion } : {}) });
  }

  /** Appends to the run's live log (what `kensa run logs` and the console read while it trains). */
  async appendLog(runId: string, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const q = this.#writes.get(runId) ?? new SerialQueue();
    this.#writes.set(runId, q);
    const dir = resolve(this.#d.runs.dir(runId));
    await q.run(async () => {
      await mkdir(dir, { recursive: true });
      await appendFile(join(dir, "run.log"), `${lines.join("\n")}\n`);
    });
  }

  /** Remote jobs whose worker stopped renewing go back in the queue, their runs queued again. */
  async requeueExpired(): Promise<string[]> {
    const rows = await this.claims.requeueExpired();
    for (const row of rows) {
      const why = `its worker stopped renewing the lease (${this.#d.config.leaseMs} ms)`;
      if (row.type === "evaluate") await this.evaluation.requeued(row, why);
      else if (row.type === "backtest") await this.#backtests?.requeued(row, why);
      else if (this.#kinds.has(row.type)) await this.#kinds.get(row.type)!.requeued(row, why);
      else await this.outcomes.requeued(row, why);
    }
    if (rows.length > 0) this.#d.kick();
    return rows.map((r) => r.id);
  }

  #forget(jobId: string): void {
    this.#progress.delete(jobId);
    this.#held.delete(jobId);
    this.#cancelled.delete(jobId);
    for (const w of this.#workers.values()) w.jobs = w.jobs.filter((j) => j !== jobId);
  }

  /** The bytes of a run's log so far (for the blob store when the run ends). */
  async logBytes(runId: string): Promise<Buffer> {
    await this.#writes.get(runId)?.idle();
    this.#writes.delete(runId);
    return readFile(join(resolve(this.#d.runs.dir(runId)), "run.log")).catch(() => Buffer.alloc(0));
  }
}
