import { createWriteStream } from "node:fs";
import { access, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isKensaError, type RunProgress, type TrainerProgress, type TrainingRun } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { SnapshotService } from "../datasets/snapshot-service.js";
import type { ClaimedJob, JobEnd, JobQueue } from "../jobs/job-queue.js";
import type { JobHandler } from "../jobs/job-worker.js";
import type { ModelService } from "../registry/model-service.js";
import { SerialQueue } from "../serial-queue.js";
import { materializeJob } from "./materialize-job.js";
import { registerRunModel } from "./register-run-model.js";
import type { RunService } from "./run-service.js";
import type { TrainerExit } from "./trainer.js";
import { trainerFailure } from "./trainer-failure.js";
import type { TrainerRegistry } from "./trainer-registry.js";

/** ms between stored step updates; epoch, start and done lines are stored at once */
const PROGRESS_EVERY_MS = 1000;

export interface TrainHandlerDeps {
  runs: RunService;
  snapshots: SnapshotService;
  blobs: BlobStore;
  trainers: TrainerRegistry;
  models: ModelService;
  queue: JobQueue;
  log: FastifyBaseLogger;
  /** a job was queued: wake the worker */
  kick: () => void;
}

type Ended = {
  status: "succeeded" | "failed" | "cancelled";
  error: { code: string; message: string } | null;
  exitCode: number | null;
  modelVersionId: string | null;
};

/**
 * The "train" job: materialise the snapshot, run the trainer, follow its progress, and on
 * success register the model — only after the ONNX loads and matches its manifest, and in
 * the same transaction as the run's completion and its gate job. A failure leaves a failed
 * run with a reason and no model version.
 */
export class TrainHandler implements JobHandler {
  readonly type = "train" as const;
  #d: TrainHandlerDeps;

  constructor(deps: TrainHandlerDeps) {
    this.#d = deps;
  }

  async run(job: ClaimedJob, signal: AbortSignal): Promise<JobEnd> {
    const { runs } = this.#d;
    const run = await runs.get(job.refId);
    if (run.status !== "queued") {
      return { status: "cancelled", error: { code: "KENSA_ERR_TRAINER_CANCELLED", message: `run is ${run.status}` } };
    }
    await runs.started(run.id);
    // absolute: the trainer runs in its own folder, and a relative dataDir (.kensa/hub) is the hub's
    const dir = resolve(runs.dir(run.id));
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const logFile = createWriteStream(join(dir, "run.log"), { flags: "a" });
    const log = (line: string) => logFile.write(`${line}\n`);
    let ended: Ended;
    try {
      ended = await this.#train(run, dir, log, signal);
    } catch (err) {
      ended = signal.aborted
        ? aborted(signal.reason, null)
        : { status: "failed", error: errorOf(err), exitCode: null, modelVersionId: null };
    }
    if (ended.error) log(`[kensa] run ${ended.status}: ${ended.error.code}: ${ended.error.message}`);
    else log(`[kensa] run succeeded: model version ${ended.modelVersionId}`);
    await new Promise<void>((resolve) => logFile.end(resolve));
    const logBlob = await this.#d.blobs.put(await readFile(join(dir, "run.log")));
    // images and outputs are in the blob store now (or were never wanted): keep nothing
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    if (ended.status === "succeeded") {
      // the completion itself committed with the model version; only the log is added
      await runs.setLog(run.id, logBlob.sha256);
      await runs.announce(run.id);
      this.#d.kick();
    } else {
      await runs.finish(run.id, { ...ended, logSha256: logBlob.sha256, finishedAt: isoNow() });
    }
    if (ended.status === "succeeded") return { status: "succeeded" };
    return { status: ended.status === "cancelled" ? "cancelled" : "failed", error: ended.error! };
  }

  async #train(run: TrainingRun, dir: string, log: (l: string) => void, signal: AbortSignal): Promise<Ended> {
    const { runs } = this.#d;
    const trainer = this.#d.trainers.get(run.trainer.name);
    log(`[kensa] run ${run.id}: ${run.params.task} on snapshot ${run.snapshotId}, trainer ${trainer.name}`);
    const manifest = await this.#d.snapshots.manifest(run.snapshotId);
    const { job, data } = await materializeJob({
      runId: run.id,
      manifest,
      params: run.params,
      blobs: this.#d.blobs,
      dir,
      signal,
    });
    await runs.update(run.id, { data });
    log(`[kensa] data: ${data.train} train, ${data.val} val, ${data.test} test, ${data.skipped.length} left out`);
    const jobPath = join(dir, "job.json");
    await writeFile(jobPath, JSON.stringify(job, null, 2));
    signal.throwIfAborted();

    const writes = new SerialQueue();
    let progress: RunProgress | null = null;
    let lastWrite = 0;
    let errorLine: { code: string; message: string } | null = null;
    const stderrTail: string[] = [];
    const store = (p: RunProgress, patch: { trainerVersion?: string } = {}, force = false) => {
      progress = p;
      const now = Date.now();
      if (!force && now - lastWrite < PROGRESS_EVERY_MS) return;
      lastWrite = now;
      void writes.run(() => runs.update(run.id, { progress: p, ...patch })).catch(() => {});
    };
    const proc = await trainer.start(jobPath, {
      text: (stream, text) => {
        log(stream === "stderr" ? `[stderr] ${text}` : text);
        if (stream === "stderr") {
          stderrTail.push(text);
          if (stderrTail.length > 20) stderrTail.shift();
        }
      },
      line: (l) => {
        const next = nextProgress(progress, l);
        if (l.type === "error") errorLine = { code: l.code, message: l.message };
        if (next) store(next, l.type === "start" ? { trainerVersion: l.trainer } : {}, l.type !== "step");
      },
    });
    const onAbort = () => proc.terminate();
    signal.addEventListener("abort", onAbort, { once: true });
    let exit: TrainerExit;
    try {
      exit = await proc.exited;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    const final = progress as RunProgress | null;
    if (final) await writes.run(() => runs.update(run.id, { progress: final }));
    await writes.idle();

    if (signal.aborted) return aborted(signal.reason, exit.code);
    if (exit.code !== 0) {
      return {
        status: "failed",
        error: trainerFailure(exit, errorLine, stderrTail),
        exitCode: exit.code,
        modelVersionId: null,
      };
    }
    try {
      const modelVersionId = await this.#register(run, join(dir, "out"), log);
      return { status: "succeeded", error: null, exitCode: 0, modelVersionId };
    } catch (err) {
      return { status: "failed", error: errorOf(err), exitCode: 0, modelVersionId: null };
    }
  }

  /** Reads the outputs from the run's folder and registers the model version (register-run-model.ts). */
  async #register(run: TrainingRun, out: string, log: (l: string) => void): Promise<string> {
    const read = async (name: string) => {
      const path = join(out, name);
      return (await exists(path)) ? readFile(path) : null;
    };
    return registerRunModel(this.#d, run, read, log);
  }
}

/** The stored progress after one line, or null when the line changes nothing. */
export function nextProgress(prev: RunProgress | null, l: TrainerProgress): RunProgress | null {
  const base: RunProgress = prev ?? {
    epoch: 0,
    epochs: 0,
    step: 0,
    totalSteps: 0,
    loss: null,
    valLoss: null,
    valMetric: null,
    primaryMetric: null,
    elapsedSec: 0,
    etaSec: null,
    fraction: 0,
  };
  const frac = (step: number, total: number) => (total > 0 ? Math.min(1, step / total) : 0);
  switch (l.type) {
    case "start":
      return { ...base, epochs: l.epochs, totalSteps: l.totalSteps, elapsedSec: l.elapsedSec };
    case "step":
      return {
        ...base,
        epoch: Math.max(base.epoch, l.epoch - 1),
        step: l.step,
        totalSteps: l.totalSteps,
        loss: l.loss,
        elapsedSec: l.elapsedSec,
        etaSec: l.etaSec,
        fraction: frac(l.step, l.totalSteps),
      };
    case "epoch":
      return {
        ...base,
        epoch: l.epoch,
        epochs: l.epochs,
        step: l.step,
        totalSteps: l.totalSteps,
        loss: l.loss,
        valLoss: l.valLoss,
        valMetric: l.valMetric,
        primaryMetric: l.primaryMetric,
        elapsedSec: l.elapsedSec,
        etaSec: l.etaSec,
        fraction: frac(l.step, l.totalSteps),
      };
    case "done":
      return { ...base, elapsedSec: l.elapsedSec, etaSec: 0, fraction: 1 };
    default:
      return null;
  }
}

function aborted(reason: unknown, exitCode: number | null): Ended {
  const shutdown = reason === "shutdown";
  return {
    status: shutdown ? "failed" : "cancelled",
    error: shutdown
      ? { code: "KENSA_ERR_RUN_INTERRUPTED", message: "the hub stopped while the run was training; start it again" }
      : { code: "KENSA_ERR_TRAINER_CANCELLED", message: "cancelled; the trainer was stopped (SIGTERM)" },
    exitCode,
    modelVersionId: null,
  };
}

function errorOf(err: unknown): { code: string; message: string } {
  if (isKensaError(err)) return { code: err.code, message: err.message };
  const e = err as { message?: string };
  return { code: "KENSA_ERR_INTERNAL", message: e?.message ?? String(err) };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
