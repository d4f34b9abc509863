import type { Readable } from "node:stream";
import {
  KensaError,
  type WorkerEvaluationJob,
  type WorkerEvaluationReply,
  type WorkerEvaluationResult,
} from "@kensa/contracts";
import type { JobRow } from "../jobs/remote-claims.js";
import { RemoteJobBase, type RemoteJobDeps } from "../jobs/remote-job-kind.js";
import { storedDriftReference } from "../registry/evaluation/drift-reference.js";
import type { StoredEvaluationMetrics } from "../registry/evaluation/evaluate-model.js";
import { type EvaluationService, evaluationError } from "../registry/evaluation/evaluation-service.js";
import { storedOutcomes } from "../registry/evaluation/sample-outcomes.js";

export interface RemoteEvaluationDeps extends RemoteJobDeps {
  evaluations: EvaluationService;
  /** wake this hub's job worker (a gate may wait on the evaluation) */
  kick: () => void;
}

type End = { metrics: StoredEvaluationMetrics } | { error: { code: string; message: string } };

/**
 * Evaluate jobs on `kensa worker`: the hub hands out what the evaluation reads (the model's
 * files, the snapshot's test items, each image and mask by sha256), the worker runs the same
 * evaluation code and posts the metrics, and the hub stores them in the transaction that ends
 * the job, exactly as a local evaluation is stored. A result from a worker that no longer holds
 * the attempt is refused (KENSA_ERR_WORKER_LEASE_LOST) and stores nothing. Leases, ends,
 * repeated posts and release are the shared remote-job skeleton's (jobs/remote-job-kind.ts).
 */
export class RemoteEvaluation extends RemoteJobBase {
  readonly #evaluations: EvaluationService;
  readonly #kick: () => void;

  constructor(d: RemoteEvaluationDeps) {
    super(d);
    this.#evaluations = d.evaluations;
    this.#kick = d.kick;
  }

  /** The claimed job staged for the worker; null when it needed no worker (done already, or it cannot run). */
  async stage(row: JobRow, attempt: number): Promise<WorkerEvaluationJob | null> {
    const evaluations = this.#evaluations;
    const { claims } = this.d;
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
    if (attempt > this.d.maxAttempts) {
      const error = {
        code: "KENSA_ERR_EVALUATION_FAILED",
        message: `the evaluation was claimed ${attempt - 1} times by workers and never finished`,
      };
      await this.#end(row, attempt, { error });
      return null;
    }
    try {
      const plan = await evaluations.plan(ev.id);
      const files = filesOf(plan.items);
      this.grants.grant(row.id, attempt, readable(plan));
      await evaluations.started(ev.id);
      return {
        jobId: row.id,
        attempt,
        leaseMs: this.d.leaseMs,
        evaluationId: ev.id,
        modelVersionId: plan.model.id,
        snapshotId: ev.snapshotId,
        manifest: plan.model.manifest,
        model: await this.workerBlob(plan.model.sha256),
        int8: plan.model.int8Sha256 ? await this.workerBlob(plan.model.int8Sha256) : null,
        okLabels: plan.okLabels,
        items: plan.items,
        files: await Promise.all(files.map((sha) => this.workerBlob(sha))),
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
    const row = await this.d.claims.held(jobId, holder, attempt);
    if (row.type !== "evaluate") throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `job ${jobId} is not an evaluation`);
    return this.grants.stream(jobId, attempt, sha256, async () => readable(await this.#evaluations.plan(row.ref_id)));
  }

  /** Stores a worker's result once: the job ends and the evaluation row is written in one transaction. */
  async complete(jobId: string, holder: string, body: WorkerEvaluationResult): Promise<WorkerEvaluationReply> {
    if ((body.metrics === null) === (body.error === null)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "an evaluation result carries either metrics or an error");
    }
    const status = body.metrics ? "succeeded" : "failed";
    return this.once<WorkerEvaluationReply>(
      jobId,
      holder,
      body.attempt,
      status,
      async (row) => {
        if (row.type !== "evaluate") throw new KensaError("KENSA_ERR_VALIDATION", `job ${jobId} is not an evaluation`);
        await this.#end(row, body.attempt, body.metrics ? { metrics: storable(body.metrics) } : { error: body.error! });
        this.d.log.info({ job: jobId, evaluation: row.ref_id, worker: holder }, `remote evaluation ${status}`);
        return { evaluationId: row.ref_id, status, duplicate: false };
      },
      (job) => ({ evaluationId: job.ref_id, status, duplicate: true }),
    );
  }

  /** After a remote attempt was given back: the evaluation is queued again for the next worker. */
  async requeued(row: JobRow, why: string): Promise<void> {
    this.forget(row.id);
    await this.d.db
      .updateTable("evaluations")
      .set({ status: "queued" })
      .where("id", "=", row.ref_id)
      .where("status", "=", "running")
      .execute();
    this.d.log.warn(
      { job: row.id, evaluation: row.ref_id, worker: row.claimed_by },
      `remote evaluation re-queued: ${why}`,
    );
  }

  /** Ends the attempt and stores how the evaluation ended, together; LEASE_LOST when another end won. */
  async #end(row: JobRow, attempt: number, end: End): Promise<void> {
    const outcome =
      "metrics" in end
        ? ({ status: "succeeded", error: null } as const)
        : ({ status: "failed", error: end.error } as const);
    await this.end(row, attempt, outcome, (trx) => this.#evaluations.record(row.ref_id, end, trx));
    this.#kick();
  }
}

/** every blob an evaluation reads: the model's files, its test images and masks */
function readable(plan: {
  model: { sha256: string; int8Sha256?: string | null };
  items: WorkerEvaluationJob["items"];
}) {
  const int8 = plan.model.int8Sha256 ? [plan.model.int8Sha256] : [];
  return new Set([plan.model.sha256, ...int8, ...filesOf(plan.items)]);
}

/** every image and mask the items name, each once */
function filesOf(items: WorkerEvaluationJob["items"]): string[] {
  const out = new Set<string>();
  for (const i of items) {
    out.add(i.image.sha256);
    for (const o of i.label.content.objects) if (o.mask) out.add(o.mask);
  }
  return [...out];
}

/** what the hub keeps of a worker's metrics: per-sample outcomes and the drift reference only in their known shapes */
function storable(m: NonNullable<WorkerEvaluationResult["metrics"]>): StoredEvaluationMetrics {
  const { outcomes: _o, drift: _d, ...metrics } = m;
  const outcomes = storedOutcomes(m);
  const drift = storedDriftReference(m);
  return { ...metrics, ...(outcomes ? { outcomes } : {}), ...(drift ? { drift } : {}) };
}
