import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type CreateRun,
  KensaError,
  type RunParams,
  type RunProgress,
  type RunQuery,
  type RunRecipe,
  type RunTrigger,
  type TrainerTask,
  type TrainingRun,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { SnapshotService } from "../datasets/snapshot-service.js";
import type { HubDatabase, TrainingRunsTable } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import type { ProjectService } from "../projects/project-service.js";
import { codeRevision } from "./code-revision.js";
import { runRecipe } from "./recipe/run-recipe.js";
import { DEFAULT_OVERLAP } from "./recipe/tiling-choice.js";
import type { RunEvents } from "./run-events.js";
import type { TrainerRegistry } from "./trainer-registry.js";
import type { TrainingSettingsService } from "./training-settings-service.js";

const TRAINABLE: readonly string[] = ["classification", "segmentation", "detection", "anomaly"];

export interface RunServiceDeps {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  snapshots: SnapshotService;
  settings: TrainingSettingsService;
  queue: JobQueue;
  trainers: TrainerRegistry;
  events: RunEvents;
  /** the work dir of all runs (`<workDir>/<runId>`) */
  workDir: string;
  /** a job was queued: wake the worker */
  kick: () => void;
  /** a job this hub runs should stop (cancel); false when it runs no such job */
  abort: (jobId: string) => boolean;
}

/**
 * What a run is created from: the API's body, or a trigger's; a trigger retraining a champion's
 * recipe passes the champion's recipe (its input and hyper-parameters with the reasons they
 * were chosen for), which is then kept instead of chosen again.
 */
export type RunRequest = Partial<CreateRun> & { recipe?: RunRecipe };

/** Training runs: created here and queued; the train job handler does the training. */
export class RunService {
  #d: RunServiceDeps;

  constructor(deps: RunServiceDeps) {
    this.#d = deps;
  }

  /**
   * Validates the request, snapshots the project when no snapshot is named, and queues the
   * run (the run row and its job commit together).
   */
  async create(projectId: string, input: RunRequest, trigger: RunTrigger): Promise<TrainingRun> {
    const { db, snapshots } = this.#d;
    const project = await this.#d.projects.get(projectId);
    const settings = await this.#d.settings.get(projectId);
    if (!TRAINABLE.includes(project.task)) {
      throw new KensaError(
        "KENSA_ERR_RUN_INVALID",
        `project ${project.slug} is an ${project.task} project; trainers train ${TRAINABLE.join(", ")}`,
      );
    }
    if (input.task && input.task !== project.task) {
      throw new KensaError(
        "KENSA_ERR_RUN_INVALID",
        `task "${input.task}" is not project ${project.slug}'s task "${project.task}"`,
      );
    }
    if (project.task === "segmentation" && !project.okLabels.includes(project.labels[0] ?? "")) {
      throw new KensaError(
        "KENSA_ERR_RUN_INVALID",
        `segmentation trains labels[0] as the background: project ${project.slug}'s first label "${project.labels[0]}" must be one of its okLabels`,
      );
    }
    const trainerName = input.trainer ?? settings.defaults.trainer;
    this.#d.trainers.get(trainerName);
    const by = input.by ?? "admin";
    let snapshotId = input.snapshotId;
    if (snapshotId) {
      const snap = await snapshots.get(snapshotId);
      if (snap.projectId !== project.id) {
        throw new KensaError(
          "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH",
          `snapshot ${snapshotId} belongs to project ${snap.projectId}, not ${project.id}`,
        );
      }
    } else {
      snapshotId = (await snapshots.create(project.id, { ...snapshotDefaults(), by })).id;
    }
    const task = project.task as TrainerTask;
    const threads = input.threads ?? settings.defaults.threads;
    const { recipe: reused, ...request } = input;
    const params: RunParams = {
      task,
      // input, channels, augmentations, balancing and epochs: given, else chosen from the snapshot
      ...(reused && request.input && request.hyper
        ? {
            input: request.input,
            hyper: request.hyper,
            ...(request.budgetSec ? { budgetSec: request.budgetSec } : {}),
            ...(request.tiling
              ? { tiling: { ...request.tiling, overlap: request.tiling.overlap ?? DEFAULT_OVERLAP } }
              : {}),
            recipe: reused,
          }
        : await runRecipe({
            task,
            manifest: await snapshots.manifest(snapshotId),
            blobs: this.#d.blobs,
            create: request,
            defaults: settings.defaults,
            threads,
          })),
      seed: input.seed ?? settings.defaults.seed,
      threads,
    };
    const row: TrainingRunsTable = {
      id: `run_${randomBytes(12).toString("base64url")}`,
      project_id: project.id,
      snapshot_id: snapshotId,
      status: "queued",
      trigger_type: trigger.type,
      trigger_detail: trigger.detail,
      params: JSON.stringify(params),
      trainer_name: trainerName,
      trainer_version: null,
      code_revision: await codeRevision(),
      progress: null,
      data: null,
      trainer_metrics: null,
      error: null,
      exit_code: null,
      model_version_id: null,
      log_sha256: null,
      created_by: by,
      created_at: isoNow(),
      started_at: null,
      finished_at: null,
    };
    await db.transaction().execute(async (trx) => {
      await trx.insertInto("training_runs").values(row).execute();
      await this.#d.queue.enqueue({ type: "train", projectId: project.id, refId: row.id }, trx);
    });
    this.#d.kick();
    return this.#emit(toRun(row));
  }

  /** throws KENSA_ERR_RUN_NOT_FOUND */
  async get(id: string): Promise<TrainingRun> {
    return toRun(await this.#row(id));
  }

  async list(q: Partial<RunQuery>): Promise<TrainingRun[]> {
    let query = this.#d.db
      .selectFrom("training_runs")
      .selectAll()
      .orderBy("created_at", "desc")
      .limit(q.limit ?? 100);
    if (q.projectId) query = query.where("project_id", "=", q.projectId);
    if (q.status) query = query.where("status", "=", q.status);
    return (await query.execute()).map(toRun);
  }

  /**
   * A queued run is cancelled at once; a running one gets SIGTERM and is cancelled when its
   * trainer has exited. Throws KENSA_ERR_RUN_NOT_CANCELLABLE when it already finished.
   */
  async cancel(id: string, by = "admin"): Promise<TrainingRun> {
    const run = await this.get(id);
    const job = await this.#d.db
      .selectFrom("jobs")
      .select(["id"])
      .where("ref_id", "=", id)
      .where("type", "=", "train")
      .executeTakeFirst();
    const error = { code: "KENSA_ERR_TRAINER_CANCELLED", message: `cancelled by ${by}` };
    if (run.status === "queued" && job && (await this.#d.queue.cancelQueued(job.id, error))) {
      return this.finish(id, { status: "cancelled", error, finishedAt: isoNow() });
    }
    // running here (or claimed a moment ago): the handler stops the trainer and records "cancelled"
    if ((run.status === "running" || run.status === "queued") && job && this.#d.abort(job.id)) return this.get(id);
    if (run.status === "queued" || run.status === "running") {
      // claimed in between, or trained by another hub: nothing here can stop it
      throw new KensaError(
        "KENSA_ERR_RUN_NOT_CANCELLABLE",
        `run ${id} is ${run.status} on another worker; cancel it on the hub that trains it`,
      );
    }
    throw new KensaError("KENSA_ERR_RUN_NOT_CANCELLABLE", `run ${id} has already ${run.status}`);
  }

  /** The run's log: the live file while it trains, the stored blob afterwards. */
  async log(id: string): Promise<string> {
    const row = await this.#row(id);
    if (row.log_sha256) {
      const bytes = await this.#d.blobs.get(row.log_sha256);
      if (bytes) return Buffer.from(bytes).toString("utf8");
    }
    return readFile(join(this.#d.workDir, id, "run.log"), "utf8").catch(() => "");
  }

  /** the run's work dir */
  dir(id: string): string {
    return join(this.#d.workDir, id);
  }

  // ---- written by the train job handler ----------------------------------------------

  async started(id: string): Promise<TrainingRun> {
    await this.#d.db
      .updateTable("training_runs")
      .set({ status: "running", started_at: isoNow() })
      .where("id", "=", id)
      .execute();
    return this.#emit(await this.get(id));
  }

  async update(
    id: string,
    patch: Partial<{
      progress: RunProgress;
      trainerVersion: string;
      data: TrainingRun["data"];
      trainerMetrics: TrainingRun["trainerMetrics"];
    }>,
    trx: Kysely<HubDatabase> = this.#d.db,
  ): Promise<void> {
    const set: Partial<TrainingRunsTable> = {};
    if (patch.progress) set.progress = JSON.stringify(patch.progress);
    if (patch.trainerVersion) set.trainer_version = patch.trainerVersion;
    if (patch.data) set.data = JSON.stringify(patch.data);
    if (patch.trainerMetrics) set.trainer_metrics = JSON.stringify(patch.trainerMetrics);
    if (Object.keys(set).length === 0) return;
    await trx.updateTable("training_runs").set(set).where("id", "=", id).execute();
    if (trx === this.#d.db) this.#emit(await this.get(id));
  }

  /** Records how a run ended; with `trx`, inside the caller's transaction (no event until it commits). */
  async finish(
    id: string,
    end: {
      status: "succeeded" | "failed" | "cancelled";
      error?: { code: string; message: string } | null;
      exitCode?: number | null;
      modelVersionId?: string | null;
      logSha256?: string | null;
      finishedAt: string;
    },
    trx?: Kysely<HubDatabase>,
  ): Promise<TrainingRun> {
    await (trx ?? this.#d.db)
      .updateTable("training_runs")
      .set({
        status: end.status,
        error: end.error ? JSON.stringify(end.error) : null,
        exit_code: end.exitCode ?? null,
        model_version_id: end.modelVersionId ?? null,
        ...(end.logSha256 ? { log_sha256: end.logSha256 } : {}),
        finished_at: end.finishedAt,
      })
      .where("id", "=", id)
      .execute();
    if (trx) return toRun(await this.#row(id, trx));
    return this.#emit(await this.get(id));
  }

  /** after a commit: tell SSE streams */
  async announce(id: string): Promise<void> {
    this.#emit(await this.get(id));
  }

  async setLog(id: string, sha256: string): Promise<void> {
    await this.#d.db.updateTable("training_runs").set({ log_sha256: sha256 }).where("id", "=", id).execute();
  }

  /** when the last run of a project was created (label triggers count from there) */
  async lastCreatedAt(projectId: string): Promise<string | null> {
    const row = await this.#d.db
      .selectFrom("training_runs")
      .select((eb) => eb.fn.max("created_at").as("t"))
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    return (row?.t as string | null | undefined) ?? null;
  }

  async #row(id: string, db: Kysely<HubDatabase> = this.#d.db): Promise<Selectable<TrainingRunsTable>> {
    const row = await db.selectFrom("training_runs").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_RUN_NOT_FOUND", `no training run with id "${id}"`);
    return row;
  }

  #emit(run: TrainingRun): TrainingRun {
    this.#d.events.emit("update", run);
    return run;
  }
}

/** the snapshot defaults of `POST /projects/:id/snapshots` */
function snapshotDefaults() {
  return {
    seed: "kensa",
    ratios: { train: 0.7, val: 0.15, test: 0.15 },
    groupBucketSec: 3600,
    include: "labeled" as const,
  };
}

export function toRun(r: Selectable<TrainingRunsTable>): TrainingRun {
  const json = <T>(s: string | null): T | null => (s ? (JSON.parse(s) as T) : null);
  return {
    id: r.id,
    projectId: r.project_id,
    snapshotId: r.snapshot_id,
    status: r.status as TrainingRun["status"],
    trigger: { type: r.trigger_type as RunTrigger["type"], detail: r.trigger_detail },
    params: JSON.parse(r.params) as RunParams,
    trainer: { name: r.trainer_name, version: r.trainer_version },
    codeRevision: r.code_revision,
    progress: json(r.progress),
    data: json(r.data),
    trainerMetrics: json(r.trainer_metrics),
    error: json(r.error),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    modelVersionId: r.model_version_id,
    by: r.created_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}
