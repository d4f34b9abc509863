import { randomBytes } from "node:crypto";
import {
  BACKTEST_DEFAULT_DAYS,
  BACKTEST_DEFAULT_LIMIT,
  BACKTEST_MAX_LIMIT,
  type Backtest,
  type BacktestBounds,
  type BacktestFrame,
  type BacktestReport,
  type CreateBacktest,
  KensaError,
  type ModelVersion,
  type Rule,
  withProjectRule,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { ClaimedJob, JobEnd, JobQueue } from "../jobs/job-queue.js";
import type { JobHandler } from "../jobs/job-worker.js";
import type { ProjectRecord } from "../projects/project-service.js";
import { type ArchivedFrame, archivedFrames, type FrameWindow } from "./backtest-frames.js";
import { replayFrames } from "./backtest-replay.js";
import { backtestBounds, backtestError, backtestReport } from "./backtest-report.js";
import { BacktestStore } from "./backtest-store.js";

/**
 * The job kind of a backtest on the hub's queue: run by this hub's backtest worker, or by a
 * `kensa worker` that lists "backtest" (training.remote.localBacktests false leaves them all to those).
 */
export const BACKTEST_JOB = "backtest";

/** What one backtest replays (BacktestService.plan). */
export interface BacktestPlan {
  model: ModelVersion;
  rules: readonly Rule[];
  frames: ArchivedFrame[];
  bounds: BacktestBounds;
  projectChampionId: string | null;
}

export interface BacktestServiceDeps {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  /** the registry's model store (throws KENSA_ERR_MODEL_NOT_FOUND) */
  models: { get(id: string): Promise<ModelVersion> };
  /** throws KENSA_ERR_PROJECT_NOT_FOUND */
  projects: { get(id: string): Promise<ProjectRecord> };
  queue: JobQueue;
  /** the project's champion now, for the report */
  champion(projectId: string): Promise<string | null>;
  /** wakes the worker that runs backtests */
  kick(): void;
}

/**
 * Backtests: a candidate model version and the rules its bundle would carry (its own, else the
 * project's incident rule, as a deployment would compile it) replayed on the project's archived
 * frames, compared with the champion's recorded decisions and with people's verdicts.
 */
export class BacktestService {
  readonly store: BacktestStore;
  #d: BacktestServiceDeps;

  constructor(deps: BacktestServiceDeps) {
    this.#d = deps;
    this.store = new BacktestStore(deps.db);
  }

  /**
   * Queues a backtest of `body.modelVersionId` on project `projectId`'s frames. Throws
   * KENSA_ERR_PROJECT_NOT_FOUND, KENSA_ERR_MODEL_NOT_FOUND, KENSA_ERR_BACKTEST_MODEL_PROJECT_MISMATCH,
   * KENSA_ERR_BACKTEST_RANGE_INVALID, or KENSA_ERR_BACKTEST_NO_FRAMES when the window holds none.
   */
  async request(projectId: string, body: CreateBacktest, by: string): Promise<Backtest> {
    const project = await this.#d.projects.get(projectId);
    const model = await this.#d.models.get(body.modelVersionId);
    if (model.projectId !== project.id) {
      throw new KensaError(
        "KENSA_ERR_BACKTEST_MODEL_PROJECT_MISMATCH",
        `model version ${model.id} belongs to project ${model.projectId}, not ${project.id}`,
      );
    }
    const window = resolveWindow(project.id, body, Date.now());
    const { inWindow } = await archivedFrames(this.#d.db, { ...window, limit: 1 }, project.okLabels);
    if (inWindow === 0) {
      throw new KensaError(
        "KENSA_ERR_BACKTEST_NO_FRAMES",
        `project ${project.id} has no archived frame between ${window.since} and ${window.until}` +
          `${window.deviceIds ? ` from ${window.deviceIds.join(", ")}` : ""}`,
      );
    }
    const id = `btst_${randomBytes(12).toString("base64url")}`;
    const { projectId: _p, ...request } = window;
    await this.#d.db.transaction().execute(async (trx) => {
      await this.store.insert(
        {
          id,
          project_id: project.id,
          model_version_id: model.id,
          status: "queued",
          request: JSON.stringify(request),
          job_id: null,
          created_by: by,
          created_at: isoNow(),
          started_at: null,
          finished_at: null,
          error: null,
          report: null,
          frames: null,
        },
        trx,
      );
      const job = await this.#d.queue.enqueue({ type: BACKTEST_JOB, projectId: project.id, refId: id }, trx);
      await this.store.setJob(id, job.id, trx);
    });
    this.#d.kick();
    return this.store.get(id);
  }

  /** A project's backtests, newest first; throws KENSA_ERR_PROJECT_NOT_FOUND */
  async list(projectId: string, q: { modelVersionId?: string | undefined; limit: number }): Promise<Backtest[]> {
    await this.#d.projects.get(projectId);
    return this.store.list(projectId, q);
  }

  /** The job handler the backtest worker runs. */
  handler(): JobHandler {
    return { type: BACKTEST_JOB, run: (job, signal) => this.#runJob(job, signal) };
  }

  /** Replays the frames and stores the report; a failure is stored with its code, never thrown half-way. */
  async #runJob(job: ClaimedJob, signal: AbortSignal): Promise<JobEnd> {
    const row = await this.store.row(job.refId);
    if (row.status === "succeeded") return { status: "succeeded" };
    await this.store.started(row.id);
    try {
      const { report, frames } = await this.compute(row.id, signal);
      await this.store.succeeded(row.id, report, frames);
      return { status: "succeeded" };
    } catch (err) {
      if (signal.aborted && signal.reason === "shutdown") {
        await this.store.requeued(row.id);
        return { status: "queued" };
      }
      const error = backtestError(err);
      await this.store.failed(row.id, error);
      return { status: "failed", error };
    }
  }

  /**
   * What a stored backtest's request replays, read now: the candidate, the rules its bundle
   * would carry and the archived frames of the window. Throws KENSA_ERR_BACKTEST_NO_FRAMES when
   * the window holds none any more.
   */
  async plan(id: string): Promise<BacktestPlan> {
    const row = await this.store.row(id);
    const request = JSON.parse(row.request) as Omit<FrameWindow, "projectId">;
    const project = await this.#d.projects.get(row.project_id);
    const model = await this.#d.models.get(row.model_version_id);
    const window: FrameWindow = { ...request, projectId: project.id };
    const { frames, inWindow } = await archivedFrames(this.#d.db, window, project.okLabels);
    if (frames.length === 0) {
      throw new KensaError(
        "KENSA_ERR_BACKTEST_NO_FRAMES",
        `project ${project.id} no longer has an archived frame between ${window.since} and ${window.until}`,
      );
    }
    return {
      model,
      // the rules a deployment of this model would ship: its own, else the project's incident rule
      rules: withProjectRule(model.manifest, project.rule, project).rules ?? [],
      frames,
      bounds: backtestBounds(window, inWindow, frames.length),
      projectChampionId: await this.#d.champion(project.id),
    };
  }

  /** The report of a stored backtest's request, computed now on this hub (the job; the bench; tests). */
  async compute(id: string, signal?: AbortSignal): Promise<{ report: BacktestReport; frames: BacktestFrame[] }> {
    const plan = await this.plan(id);
    const bytes = await this.#d.blobs.get(plan.model.sha256);
    if (!bytes) {
      throw new KensaError(
        "KENSA_ERR_BLOB_NOT_FOUND",
        `the file of model ${plan.model.id} (${plan.model.sha256}) is missing`,
      );
    }
    const replay = await replayFrames({
      model: bytes,
      manifest: plan.model.manifest,
      rules: plan.rules,
      frames: plan.frames,
      blobs: this.#d.blobs,
      ...(signal ? { signal } : {}),
    });
    const report = backtestReport({ ...plan, replay });
    return { report, frames: replay.frames };
  }
}

/** The request's window with its defaults: the last 30 days up to now, 1,000 frames. */
export function resolveWindow(projectId: string, body: CreateBacktest, nowMs: number): FrameWindow {
  const until = body.until ? Date.parse(body.until) : nowMs;
  const since = body.since ? Date.parse(body.since) : until - BACKTEST_DEFAULT_DAYS * 86_400_000;
  if (!Number.isFinite(since) || !Number.isFinite(until) || since >= until) {
    throw new KensaError(
      "KENSA_ERR_BACKTEST_RANGE_INVALID",
      `the window from ${body.since ?? "(30 days back)"} to ${body.until ?? "(now)"} is empty or reversed`,
    );
  }
  const limit = body.limit ?? BACKTEST_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > BACKTEST_MAX_LIMIT) {
    throw new KensaError("KENSA_ERR_BACKTEST_RANGE_INVALID", `limit must be 1…${BACKTEST_MAX_LIMIT}, not ${limit}`);
  }
  return {
    projectId,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    limit,
    deviceIds: body.deviceIds ? [...new Set(body.deviceIds)] : null,
    captures: body.captures ?? true,
  };
}
