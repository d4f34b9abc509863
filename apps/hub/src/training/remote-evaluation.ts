import type { Readable } from "node:stream";
import {
  isKensaError,
  KensaError,
  type WorkerBlob,
  type WorkerEvaluationJob,
  type WorkerEvaluationReply,
  type WorkerEvaluationResult,
} from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import { JobBlobGrants } from "../jobs/job-blob-grants.js";
import type { JobRow, RemoteClaims } from "../jobs/remote-claims.js";
import { storedDriftReference } from "../registry/evaluation/drift-reference.js";
import type { StoredEvaluationMetrics } from "../registry/evaluation/evaluate-model.js";
import { type EvaluationService, evaluationError } from "../registry/evaluation/evaluation-service.js";
import { storedOutcomes } from "../registry/evaluation/sample-outcomes.js";

/** s a presigned blob URL stays valid: long enough for a slow link to fetch every test image */
const PRESIGN_TTL_SEC = 3600;

export interface RemoteEvaluationDeps {
  db: Kysely<HubDatabase>;
  claims: RemoteClaims;
  evaluations: EvaluationService;
  blobs: BlobStore;
  log: FastifyBaseLogger;
  leaseMs: number;
  /** claims of one evaluation by workers before the hub fails it (one that crashes every worker) */
  maxAttempts: number;
  /** wake this hub's job worker (a gate may wait on the evaluation) */
  kick: () => void;
  /** the job left this worker (the workers' listing) */
  forget: (jobId: string) => void;
}

/**
 * Evaluate jobs on `kensa worker`: the hub hands out what the evaluation reads (the model's
 * files, the snapshot's test items, each image and mask by sha256), the worker runs the same
 * evaluation code and posts the metrics, and the hub stores them in the transaction that ends
 * the job, exactly as a local evaluation is stored. A result from a worker that no longer holds
 * the attempt is refused (KENSA_ERR_WORKER_LEASE_LOST) and stores nothing.
 */
export class RemoteEvaluation {
  #d: RemoteEvaluationDeps;
  readonly #grants: JobBlobGrants;

  constructor(d: RemoteEvaluationDeps) {
    this.#d = d;
    this.#grants = new JobBlobGrants(d.blobs);
  }

  /** The claimed job staged for the worker; null when it needed no worker (done already, or it cannot run). */
  async stage(row: JobRow, attempt: number): Promise<WorkerEvaluationJob | null> {
    const { evaluations, claims } = this.#d;
    const holder = row.claimed_by!;
    const ev = await evaluations.get(row.ref_id).catch(() => null);
    if (!ev) {
      const error = { code: "KENSA_ERR_EVALUATION_NOT_FOUND", message: `no evaluation with id "${row.ref_id}"` };
      await claims.end(row.id, holder, attempt, { status: "failed", error });
      return null;
    }
    // a second job of one evaluation (two gates asked at once): the first stored it
    if (ev.status === "succeeded") {
      await claims.end(row.id, holder, attempt, { status: "succeeded", error: null });
      return null;
    }
    if (attempt > this.#d.maxAttempts) {
      const error = {
        code: "KENSA_ERR_EVALUATION_FAILED",
        message: `the evaluation was claimed ${attempt - 1} times by workers and never finished`,
      };
      await this.#end(row, attempt, { error });
      return null;
    }
    try {
      const plan = await evaluations.plan(ev.id);
      const files = this.#filesOf(plan.items);
      this.#grants.grant(row.id, attempt, this.#readable(plan));
      await evaluations.started(ev.id);
      return {
        jobId: row.id,
        attempt,
        leaseMs: this.#d.leaseMs,
        evaluationId: ev.id,
        modelVersionId: plan.model.id,
        snapshotId: ev.snapshotId,
        manifest: plan.model.manifest,
        model: await this.#blob(plan.model.sha256),
        int8: plan.model.int8Sha256 ? await this.#blob(plan.model.int8Sha256) : null,
        okLabels: plan.okLabels,
        items: plan.items,
        files: await Promise.all(files.map((sha) => this.#blob(sha))),
      };
    } catch (err) {
      // the model cannot be scored anywhere (no test split, a missing model): fail it as a local evaluation would
      await this.#end(row, attempt, { error: evaluationError(err) });
      return null;
    }
  }

  /** One blob a held attempt reads, as a stream with its size. */
  async blob(
    jobId: string,
    holder: string,
    attempt: number,
    sha256: string,
  ): Promise<{ stream: Readable; size: number }> {
    const row = await this.#d.claims.held(jobId, holder, attempt);
    if (row.type !== "evaluate") throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `job ${jobId} is not an evaluation`);
    return this.#grants.stream(jobId, attempt, sha256, async () =>
      this.#readable(await this.#d.evaluations.plan(row.ref_id)),
    );
  }

  /** Stores a worker's result once: the job ends and the evaluation row is written in one transaction. */
  async complete(jobId: string, holder: string, body: WorkerEvaluationResult): Promise<WorkerEvaluationReply> {
    if ((body.metrics === null) === (body.error === null)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "an evaluation result carries either metrics or an error");
    }
    const row = await this.#d.claims.held(jobId, holder, body.attempt).catch(async (err: unknown) => {
      const done = await this.#repeated(jobId, holder, body);
      if (done) return done;
      throw err;
    });
    if ("duplicate" in row) return row;
    if (row.type !== "evaluate") throw new KensaError("KENSA_ERR_VALIDATION", `job ${jobId} is not an evaluation`);
    const end = body.metrics ? { metrics: storable(body.metrics) } : { error: body.error! };
    try {
      await this.#end(row, body.attempt, end);
    } catch (err) {
      const done =
        isKensaError(err) && err.code === "KENSA_ERR_WORKER_LEASE_LOST"
          ? await this.#repeated(jobId, holder, body)
          : null;
      if (done) return done;
      throw err;
    }
    this.#d.log.info(
      { job: jobId, evaluation: row.ref_id, worker: holder },
      `remote evaluation ${"metrics" in end ? "succeeded" : "failed"}`,
    );
    return { evaluationId: row.ref_id, status: "metrics" in end ? "succeeded" : "failed", duplicate: false };
  }

  /** The worker gives the job back (it is stopping): queued again at once. */
  async release(jobId: string, holder: string, attempt: number): Promise<void> {
    const row = await this.#d.claims.held(jobId, holder, attempt);
    if (!(await this.#d.claims.end(jobId, holder, attempt, { status: "queued" }))) {
      await this.#d.claims.held(jobId, holder, attempt);
    }
    await this.requeued(row, "its worker released it (the worker is stopping)");
  }

  /** After a remote attempt was given back: the evaluation is queued again for the next worker. */
  async requeued(row: JobRow, why: string): Promise<void> {
    this.#forget(row.id);
    await this.#d.db
      .updateTable("evaluations")
      .set({ status: "queued" })
      .where("id", "=", row.ref_id)
      .where("status", "=", "running")
      .execute();
    this.#d.log.warn(
      { job: row.id, evaluation: row.ref_id, worker: row.claimed_by },
      `remote evaluation re-queued: ${why}`,
    );
  }

  /** Ends the attempt and stores how the evaluation ended, together; LEASE_LOST when another end won. */
  async #end(
    row: JobRow,
    attempt: number,
    end: { metrics: StoredEvaluationMetrics } | { error: { code: string; message: string } },
  ) {
    const holder = row.claimed_by!;
    await this.#d.db.transaction().execute(async (trx) => {
      const jobEnd =
        "metrics" in end
          ? ({ status: "succeeded", error: null } as const)
          : ({ status: "failed", error: end.error } as const);
      if (!(await this.#d.claims.end(row.id, holder, attempt, jobEnd, trx)))
        await this.#d.claims.held(row.id, holder, attempt, trx);
      await this.#d.evaluations.record(row.ref_id, end, trx);
    });
    this.#forget(row.id);
    this.#d.kick();
  }

  /** The same attempt's result posted again (its answer was lost): answered as stored, nothing stored twice. */
  async #repeated(jobId: string, holder: string, body: WorkerEvaluationResult): Promise<WorkerEvaluationReply | null> {
    const job = await this.#d.db.selectFrom("jobs").selectAll().where("id", "=", jobId).executeTakeFirst();
    const status = body.metrics ? "succeeded" : "failed";
    if (job?.status !== status || job.claimed_by !== holder || Number(job.attempts) !== body.attempt) return null;
    return { evaluationId: job.ref_id, status, duplicate: true };
  }

  #forget(jobId: string): void {
    this.#grants.forget(jobId);
    this.#d.forget(jobId);
  }

  /** every blob an evaluation reads: the model's files, its test images and masks */
  #readable(plan: { model: { sha256: string; int8Sha256?: string | null }; items: WorkerEvaluationJob["items"] }) {
    const int8 = plan.model.int8Sha256 ? [plan.model.int8Sha256] : [];
    return new Set([plan.model.sha256, ...int8, ...this.#filesOf(plan.items)]);
  }

  /** every image and mask the items name, each once */
  #filesOf(items: WorkerEvaluationJob["items"]): string[] {
    const out = new Set<string>();
    for (const i of items) {
      out.add(i.image.sha256);
      for (const o of i.label.content.objects) if (o.mask) out.add(o.mask);
    }
    return [...out];
  }

  async #blob(sha256: string): Promise<WorkerBlob> {
    const url = this.#d.blobs.presignGet ? await this.#d.blobs.presignGet(sha256, PRESIGN_TTL_SEC) : null;
    return { sha256, url };
  }
}

/** what the hub keeps of a worker's metrics: per-sample outcomes and the drift reference only in their known shapes */
function storable(m: NonNullable<WorkerEvaluationResult["metrics"]>): StoredEvaluationMetrics {
  const { outcomes: _o, drift: _d, ...metrics } = m;
  const outcomes = storedOutcomes(m);
  const drift = storedDriftReference(m);
  return { ...metrics, ...(outcomes ? { outcomes } : {}), ...(drift ? { drift } : {}) };
}
