import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Evaluation, type EvaluationMetrics, isKensaError, KensaError, type ModelVersion } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../../blobstore/blob-store.js";
import { isoNow } from "../../clock.js";
import type { SnapshotService } from "../../datasets/snapshot-service.js";
import type { EvaluationsTable, HubDatabase } from "../../db/schema.js";
import type { ClaimedJob, JobEnd, JobQueue } from "../../jobs/job-queue.js";
import type { JobHandler } from "../../jobs/job-worker.js";
import type { ModelService } from "../model-service.js";
import type { ModelPolicy } from "../ports.js";
import { evaluateModel, type StoredEvaluationMetrics, testItems } from "./evaluate-model.js";
import { type SampleOutcomes, storedOutcomes } from "./sample-outcomes.js";
import type { EvalItem } from "./task-evaluator.js";

export interface EvaluationServiceDeps {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  models: ModelService;
  snapshots: SnapshotService;
  settings: Pick<ModelPolicy, "get">;
  queue: JobQueue;
  kick: () => void;
  /** ONNX Runtime threads per evaluation */
  threads: number;
  /** false: evaluations run on workers only (`training.remote.localEvaluation`); true when omitted */
  local?: boolean;
  /** ms between looks at an evaluation a worker runs, while waiting for it */
  pollMs?: number;
}

/**
 * Scores model versions — trained here or uploaded — on a snapshot's test split with ONNX
 * Runtime, in TypeScript, the same code for every model. One evaluation per (model version,
 * snapshot): asking again returns the stored one; a failed one is tried again.
 */
export class EvaluationService {
  #d: EvaluationServiceDeps;
  /** calls that must take turns in this process, by key (see `#inTurn`) */
  #requesting = new Map<string, Promise<unknown>>();

  constructor(deps: EvaluationServiceDeps) {
    this.#d = deps;
  }

  /** The snapshot a model is judged on: the one named, the project's evaluation snapshot, its training snapshot, the latest. */
  async snapshotFor(model: ModelVersion, requested?: string): Promise<string> {
    let id =
      requested ?? (await this.#d.settings.get(model.projectId)).evaluationSnapshotId ?? model.lineage?.snapshotId;
    if (!id) {
      const latest = (await this.#d.snapshots.list(model.projectId))[0];
      if (!latest) {
        throw new KensaError(
          "KENSA_ERR_SNAPSHOT_NOT_FOUND",
          `project ${model.projectId} has no snapshot to evaluate on; create one (kensa dataset snapshot)`,
        );
      }
      id = latest.id;
    }
    const snap = await this.#d.snapshots.get(id);
    if (snap.projectId !== model.projectId) {
      throw new KensaError(
        "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH",
        `snapshot ${id} belongs to project ${snap.projectId}, not the model's ${model.projectId}`,
      );
    }
    return id;
  }

  /** Queues an evaluation unless the pair has one (returned as is, unless it failed). */
  async request(modelVersionId: string, snapshotId?: string): Promise<Evaluation> {
    const model = await this.#d.models.get(modelVersionId);
    const snap = await this.snapshotFor(model, snapshotId);
    // the pair's row is made on first request: two requests at once take turns
    return this.#inTurn(`pair/${model.id}/${snap}`, async () => {
      const row = await this.#rowFor(model, snap);
      if (row.status === "queued" && (await this.#ensureJob(row.id, model.projectId))) this.#d.kick();
      return toEvaluation(row);
    });
  }

  /** The pair's evaluation, computed now (inside another job, e.g. the gate) unless stored. */
  async ensure(modelVersionId: string, snapshotId: string, signal?: AbortSignal): Promise<Evaluation> {
    const model = await this.#d.models.get(modelVersionId);
    const row = await this.#rowFor(model, snapshotId);
    if (row.status === "succeeded") return toEvaluation(row);
    return this.#run(row.id, signal);
  }

  /**
   * Like ensure, with what the model did on each test sample (for the gate's paired
   * comparison). An evaluation stored before outcomes were kept is computed again, once.
   */
  async ensureWithOutcomes(
    modelVersionId: string,
    snapshotId: string,
    signal?: AbortSignal,
  ): Promise<{ evaluation: Evaluation; outcomes: SampleOutcomes | null }> {
    const model = await this.#d.models.get(modelVersionId);
    let row = await this.#rowFor(model, snapshotId);
    if (row.status !== "succeeded" || !row.metrics?.includes('"outcomes"')) {
      await this.#run(row.id, signal);
      row = await this.#d.db.selectFrom("evaluations").selectAll().where("id", "=", row.id).executeTakeFirstOrThrow();
    }
    return {
      evaluation: toEvaluation(row),
      outcomes: row.metrics ? storedOutcomes(JSON.parse(row.metrics)) : null,
    };
  }

  /** throws KENSA_ERR_EVALUATION_NOT_FOUND */
  async get(id: string): Promise<Evaluation> {
    const row = await this.#d.db.selectFrom("evaluations").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_EVALUATION_NOT_FOUND", `no evaluation with id "${id}"`);
    return toEvaluation(row);
  }

  async list(modelVersionId: string): Promise<Evaluation[]> {
    await this.#d.models.get(modelVersionId);
    const rows = await this.#d.db
      .selectFrom("evaluations")
      .selectAll()
      .where("model_version_id", "=", modelVersionId)
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(toEvaluation);
  }

  /** the stored evaluation of a pair, or null */
  async find(modelVersionId: string, snapshotId: string): Promise<Evaluation | null> {
    const row = await this.#d.db
      .selectFrom("evaluations")
      .selectAll()
      .where("model_version_id", "=", modelVersionId)
      .where("snapshot_id", "=", snapshotId)
      .executeTakeFirst();
    return row ? toEvaluation(row) : null;
  }

  /** The "evaluate" job handler. */
  handler(): JobHandler {
    return {
      type: "evaluate",
      run: async (job: ClaimedJob, signal: AbortSignal): Promise<JobEnd> => {
        const ev = await this.get(job.refId);
        if (ev.status === "succeeded") return { status: "succeeded" };
        try {
          const done = await this.#run(ev.id, signal);
          return done.status === "succeeded" ? { status: "succeeded" } : { status: "failed", error: done.error! };
        } catch (err) {
          // the hub is stopping: give the job back, it is safe to run again
          if (signal.aborted && signal.reason === "shutdown") return { status: "queued" };
          throw err;
        }
      },
    };
  }

  /** Runs an evaluation and stores its metrics or its error; a shutdown puts it back in the queue. */
  async #run(id: string, signal?: AbortSignal): Promise<Evaluation> {
    if (this.#d.local === false) return this.#awaitRemote(id, signal);
    const db = this.#d.db;
    const row = await db.selectFrom("evaluations").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    await this.started(id);
    try {
      const model = await this.#d.models.get(row.model_version_id);
      await this.record(id, { metrics: await this.compute(model, row.snapshot_id, signal) });
    } catch (err) {
      if (signal?.aborted) {
        await db.updateTable("evaluations").set({ status: "queued" }).where("id", "=", id).execute();
        throw err;
      }
      await this.record(id, { error: evaluationError(err) });
    }
    return this.get(id);
  }

  /**
   * With local evaluation off (`training.remote.localEvaluation`), an evaluation needed now
   * (the gate's) is left to a worker: its evaluate job is queued (again, when a job was lost)
   * and this waits until a worker stored the result. A shutdown aborts the wait, not the job.
   */
  async #awaitRemote(id: string, signal?: AbortSignal): Promise<Evaluation> {
    const db = this.#d.db;
    // a failed evaluation, or one stored before outcomes were kept, is queued again as a new one
    // is; one a worker finished since the caller read it (it just succeeded) is not
    await db
      .updateTable("evaluations")
      .set({ status: "queued", error: null, finished_at: null })
      .where("id", "=", id)
      .where((eb) =>
        eb.or([
          eb("status", "=", "failed"),
          eb.and([eb("status", "=", "succeeded"), eb("metrics", "not like", '%"outcomes"%')]),
        ]),
      )
      .execute();
    for (;;) {
      signal?.throwIfAborted();
      const row = await db.selectFrom("evaluations").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
      if (row.status === "succeeded" || row.status === "failed") return toEvaluation(row);
      await this.#ensureJob(id, row.project_id);
      await sleep(this.#d.pollMs ?? 500, undefined, signal ? { signal } : {});
    }
  }

  /**
   * Queues the evaluation's job unless it has one; true when it queued one. Checking and queueing
   * are two statements: callers for one evaluation (a request, a gate waiting on a worker) would
   * both find none and queue two, so they take turns in this process.
   */
  #ensureJob(id: string, projectId: string): Promise<boolean> {
    return this.#inTurn(`job/${id}`, async () => {
      if (await this.#hasJob(id)) return false;
      await this.#d.queue.enqueue({ type: "evaluate", projectId, refId: id });
      return true;
    });
  }

  /** Runs `fn` after every earlier call with the same key has ended. */
  async #inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const mine = (this.#requesting.get(key) ?? Promise.resolve()).catch(() => {}).then(fn);
    this.#requesting.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.#requesting.get(key) === mine) this.#requesting.delete(key);
    }
  }

  /** The evaluation's row says it runs (here or on a worker). */
  async started(id: string): Promise<void> {
    await this.#d.db.updateTable("evaluations").set({ status: "running", error: null }).where("id", "=", id).execute();
  }

  /** Stores how an evaluation ended; pass the transaction that ends its job (a worker's result). */
  async record(
    id: string,
    end: { metrics: StoredEvaluationMetrics } | { error: { code: string; message: string } },
    db: Kysely<HubDatabase> = this.#d.db,
  ): Promise<void> {
    await db
      .updateTable("evaluations")
      .set(
        "metrics" in end
          ? { status: "succeeded", metrics: JSON.stringify(end.metrics), error: null, finished_at: isoNow() }
          : { status: "failed", error: JSON.stringify(end.error), finished_at: isoNow() },
      )
      .where("id", "=", id)
      .execute();
  }

  /**
   * What an evaluation reads, for a worker to run it: the model version, the snapshot's OK
   * labels and test items. Throws what computing it here would (no test split, no model).
   */
  async plan(
    id: string,
  ): Promise<{ evaluation: Evaluation; model: ModelVersion; okLabels: string[]; items: EvalItem[] }> {
    const evaluation = await this.get(id);
    const model = await this.#d.models.get(evaluation.modelVersionId);
    const manifest = await this.#d.snapshots.manifest(evaluation.snapshotId);
    const items = testItems(manifest, evaluation.snapshotId);
    return { evaluation, model, okLabels: [...manifest.okLabels], items };
  }

  /** Metrics of a model (and its int8 variant) on a snapshot's test split. */
  async compute(model: ModelVersion, snapshotId: string, signal?: AbortSignal): Promise<StoredEvaluationMetrics> {
    const manifest = await this.#d.snapshots.manifest(snapshotId);
    return evaluateModel({
      manifest: model.manifest,
      model: await this.#blob(model.sha256, model.id),
      int8: model.int8Sha256 ? await this.#blob(model.int8Sha256, model.id) : null,
      items: testItems(manifest, snapshotId),
      okLabels: manifest.okLabels,
      snapshotId,
      blobs: this.#d.blobs,
      threads: this.#d.threads,
      ...(signal ? { signal } : {}),
    });
  }

  async #blob(sha256: string, modelId: string): Promise<Uint8Array> {
    const bytes = await this.#d.blobs.get(sha256);
    if (!bytes) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the file of model ${modelId} (${sha256}) is missing`);
    return bytes;
  }

  async #hasJob(evaluationId: string): Promise<boolean> {
    const row = await this.#d.db
      .selectFrom("jobs")
      .select("id")
      .where("ref_id", "=", evaluationId)
      .where("status", "in", ["queued", "running"])
      .executeTakeFirst();
    return row !== undefined;
  }

  /** the pair's row, created (queued) when missing; a failed one is queued again */
  async #rowFor(model: ModelVersion, snapshotId: string): Promise<Selectable<EvaluationsTable>> {
    const db = this.#d.db;
    await db
      .insertInto("evaluations")
      .values({
        id: `evl_${randomBytes(12).toString("base64url")}`,
        project_id: model.projectId,
        model_version_id: model.id,
        snapshot_id: snapshotId,
        status: "queued",
        metrics: null,
        error: null,
        created_at: isoNow(),
        finished_at: null,
      })
      .onConflict((oc) => oc.columns(["model_version_id", "snapshot_id"]).doNothing())
      .execute();
    await db
      .updateTable("evaluations")
      .set({ status: "queued", error: null, finished_at: null })
      .where("model_version_id", "=", model.id)
      .where("snapshot_id", "=", snapshotId)
      .where("status", "=", "failed")
      .execute();
    return db
      .selectFrom("evaluations")
      .selectAll()
      .where("model_version_id", "=", model.id)
      .where("snapshot_id", "=", snapshotId)
      .executeTakeFirstOrThrow();
  }
}

/** An evaluation's error as stored: a coded error as is, anything else as KENSA_ERR_EVALUATION_FAILED. */
export function evaluationError(err: unknown): { code: string; message: string } {
  return isKensaError(err)
    ? { code: err.code, message: err.message }
    : { code: "KENSA_ERR_EVALUATION_FAILED", message: (err as Error).message ?? String(err) };
}

export function toEvaluation(r: Selectable<EvaluationsTable>): Evaluation {
  return {
    id: r.id,
    modelVersionId: r.model_version_id,
    snapshotId: r.snapshot_id,
    split: "test",
    status: r.status as Evaluation["status"],
    metrics: r.metrics ? publicMetrics(JSON.parse(r.metrics)) : null,
    error: r.error ? (JSON.parse(r.error) as { code: string; message: string }) : null,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

/** the stored metrics without the per-sample outcomes and the drift reference, which stay inside the hub */
function publicMetrics(stored: EvaluationMetrics & { outcomes?: unknown; drift?: unknown }): EvaluationMetrics {
  const { outcomes: _kept, drift: _reference, ...metrics } = stored;
  return metrics;
}
