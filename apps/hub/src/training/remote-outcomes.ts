import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { isKensaError, KensaError, type WorkerComplete, type WorkerCompleteReply } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import type { JobRow, RemoteClaims } from "../jobs/remote-claims.js";
import type { ModelService } from "../registry/model-service.js";
import { registerRunModel } from "./register-run-model.js";
import type { RunService } from "./run-service.js";

export interface RemoteOutcomesDeps {
  db: Kysely<HubDatabase>;
  claims: RemoteClaims;
  runs: RunService;
  blobs: BlobStore;
  models: ModelService;
  queue: JobQueue;
  log: FastifyBaseLogger;
  kick: () => void;
  appendLog: (runId: string, lines: readonly string[]) => Promise<void>;
  logBytes: (runId: string) => Promise<Buffer>;
  forget: (jobId: string) => void;
}

/**
 * How a remote attempt ends. Every end is conditional on the worker still holding that attempt
 * of the job, and a completion ends the job in the transaction that registers the model
 * version: a late, repeated or concurrent completion (the same worker retrying, or a worker
 * whose lease ran out while another finished the job) never registers a second version.
 */
export class RemoteOutcomes {
  #d: RemoteOutcomesDeps;
  /** completions in flight by job: a repeated one waits for the first and answers as it did */
  #completing = new Map<string, Promise<WorkerCompleteReply>>();

  constructor(d: RemoteOutcomesDeps) {
    this.#d = d;
  }

  complete(jobId: string, holder: string, body: WorkerComplete): Promise<WorkerCompleteReply> {
    const key = `${jobId}#${body.attempt}`;
    const inFlight = this.#completing.get(key);
    if (inFlight) return inFlight.then((r) => ({ ...r, duplicate: true }));
    const p = this.#complete(jobId, holder, body).finally(() => this.#completing.delete(key));
    this.#completing.set(key, p);
    return p;
  }

  async #complete(jobId: string, holder: string, body: WorkerComplete): Promise<WorkerCompleteReply> {
    const { claims, runs } = this.#d;
    let row: JobRow;
    try {
      row = await claims.held(jobId, holder, body.attempt);
    } catch (err) {
      // this job was completed already (a retried request): answer what it produced, register nothing
      const done = await this.#alreadyCompleted(jobId);
      if (done) return done;
      throw err;
    }
    const run = await runs.get(row.ref_id);
    const read = async (name: string) => {
      const sha = body.outputs[name];
      if (!sha) return null;
      const bytes = await this.#d.blobs.get(sha);
      if (!bytes) {
        throw new KensaError("KENSA_ERR_TRAINER_OUTPUT_INVALID", `output ${name} (${sha}) was never uploaded`);
      }
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    const log = (line: string) => void this.#d.appendLog(run.id, [line]);
    let modelVersionId: string;
    try {
      modelVersionId = await registerRunModel(this.#d, run, read, log, async (trx) => {
        const ended = await claims.end(jobId, holder, body.attempt, { status: "succeeded", error: null }, trx);
        // another end won meanwhile (the lease ran out, the worker released it): roll the version back
        if (!ended) throw new KensaError("KENSA_ERR_WORKER_LEASE_LOST", `job ${jobId} ended while completing it`);
      });
    } catch (err) {
      if (isKensaError(err) && err.code === "KENSA_ERR_WORKER_LEASE_LOST") {
        const done = await this.#alreadyCompleted(jobId);
        if (done) return done;
        throw err;
      }
      const error = isKensaError(err)
        ? { code: err.code, message: err.message }
        : { code: "KENSA_ERR_INTERNAL", message: String(err) };
      await this.fail(jobId, holder, body.attempt, { error, exitCode: 0 });
      return { runId: run.id, modelVersionId: null, duplicate: false, error };
    }
    await this.#d.appendLog(run.id, [`[kensa] run succeeded: model version ${modelVersionId}`]);
    await this.#close(run.id, jobId);
    await runs.announce(run.id);
    this.#d.kick();
    return { runId: run.id, modelVersionId, duplicate: false, error: null };
  }

  async #alreadyCompleted(jobId: string): Promise<WorkerCompleteReply | null> {
    const job = await this.#d.queue.get(jobId);
    if (job?.status !== "succeeded") return null;
    const run = await this.#d.runs.get(job.refId);
    if (!run.modelVersionId) return null;
    return { runId: run.id, modelVersionId: run.modelVersionId, duplicate: true, error: null };
  }

  /** The trainer failed (or the run could not be staged): the run fails with the reason. */
  async fail(
    jobId: string,
    holder: string,
    attempt: number,
    f: { error: { code: string; message: string }; exitCode: number | null },
  ): Promise<void> {
    const row = await this.#d.claims.held(jobId, holder, attempt);
    const status = f.error.code === "KENSA_ERR_TRAINER_CANCELLED" ? "cancelled" : "failed";
    if (!(await this.#d.claims.end(jobId, holder, attempt, { status, error: f.error }))) {
      await this.#d.claims.held(jobId, holder, attempt);
    }
    await this.#d.appendLog(row.ref_id, [`[kensa] run ${status}: ${f.error.code}: ${f.error.message}`]);
    const logSha256 = await this.#close(row.ref_id, jobId);
    await this.#d.runs.finish(row.ref_id, {
      status,
      error: f.error,
      exitCode: f.exitCode,
      modelVersionId: null,
      logSha256,
      finishedAt: isoNow(),
    });
  }

  /** The worker gives the job back (it is stopping): queued again at once. */
  async release(jobId: string, holder: string, attempt: number): Promise<void> {
    const row = await this.#d.claims.held(jobId, holder, attempt);
    if (!(await this.#d.claims.end(jobId, holder, attempt, { status: "queued" }))) {
      await this.#d.claims.held(jobId, holder, attempt);
    }
    await this.requeued(row, "its worker released it (the worker is stopping)");
    this.#d.kick();
  }

  /** After a remote attempt was given back: the run is queued again, the log says why. */
  async requeued(row: JobRow, why: string): Promise<void> {
    this.#d.forget(row.id);
    await this.#d.appendLog(row.ref_id, [`[kensa] attempt ${row.attempts} ended: ${why}; the run is queued again`]);
    await this.#d.db
      .updateTable("training_runs")
      .set({ status: "queued", started_at: null, progress: null })
      .where("id", "=", row.ref_id)
      .where("status", "=", "running")
      .execute();
    await this.#d.runs.announce(row.ref_id);
    this.#d.log.warn({ job: row.id, run: row.ref_id, worker: row.claimed_by }, `remote training job re-queued: ${why}`);
  }

  /** Stores the log, removes the staged data; answers the log's sha256. */
  async #close(runId: string, jobId: string): Promise<string | null> {
    this.#d.forget(jobId);
    const bytes = await this.#d.logBytes(runId);
    const blob = await this.#d.blobs.put(bytes);
    await this.#d.runs.setLog(runId, blob.sha256);
    await rm(resolve(this.#d.runs.dir(runId)), { recursive: true, force: true }).catch(() => {});
    return blob.sha256;
  }
}
