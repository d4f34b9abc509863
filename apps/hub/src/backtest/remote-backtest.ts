import type { Readable } from "node:stream";
import { isDeepStrictEqual } from "node:util";
import {
  type BacktestReport,
  compile,
  KensaError,
  Rule,
  type WorkerBacktestJob,
  type WorkerBacktestReply,
  type WorkerBacktestResult,
} from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { JobRow } from "../jobs/remote-claims.js";
import { RemoteJobBase, type RemoteJobDeps } from "../jobs/remote-job-kind.js";
import { backtestError } from "./backtest-report.js";
import type { BacktestPlan, BacktestService } from "./backtest-service.js";
import { tally } from "./backtest-tally.js";

const checkRules = compile(Type.Array(Rule));

export interface RemoteBacktestDeps extends RemoteJobDeps {
  service: BacktestService;
}

type End =
  | { report: BacktestReport; frames: WorkerBacktestResult["frames"] }
  | { error: { code: string; message: string } };

/**
 * Backtest jobs on `kensa worker`: the hub hands out what the replay reads (the candidate's
 * model and manifest, the rules its bundle would carry, the archived frames with their media by
 * sha256), the worker replays them with the hub's own replay code and posts the report, and the
 * hub stores it in the transaction that ends the job, exactly as a local backtest is stored. A
 * result from a worker that no longer holds the attempt is refused (KENSA_ERR_WORKER_LEASE_LOST).
 * Leases, ends, repeated posts and release are the shared remote-job skeleton's
 * (jobs/remote-job-kind.ts).
 */
export class RemoteBacktest extends RemoteJobBase {
  readonly #service: BacktestService;

  constructor(d: RemoteBacktestDeps) {
    super(d);
    this.#service = d.service;
  }

  /** The claimed job staged for the worker; null when it needed no worker (done already, or it cannot run). */
  async stage(row: JobRow, attempt: number): Promise<WorkerBacktestJob | null> {
    const service = this.#service;
    const { claims } = this.d;
    const holder = row.claimed_by!;
    const bt = await service.store.row(row.ref_id).catch(() => null);
    if (!bt) {
      const error = { code: "KENSA_ERR_BACKTEST_NOT_FOUND", message: `no backtest with id "${row.ref_id}"` };
      await claims.end(row.id, holder, attempt, { status: "failed", error });
      return null;
    }
    if (bt.status === "succeeded") {
      await claims.end(row.id, holder, attempt, { status: "succeeded", error: null });
      return null;
    }
    if (attempt > this.d.maxAttempts) {
      const message = `the backtest was claimed ${attempt - 1} times by workers and never finished`;
      await this.#end(row, attempt, { error: { code: "KENSA_ERR_BACKTEST_FAILED", message } });
      return null;
    }
    try {
      const plan = await service.plan(bt.id);
      if (!(await this.d.blobs.has(plan.model.sha256))) {
        const m = plan.model;
        throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the file of model ${m.id} (${m.sha256}) is missing`);
      }
      this.grants.grant(row.id, attempt, readable(plan));
      await service.store.started(bt.id);
      return {
        jobId: row.id,
        attempt,
        leaseMs: this.d.leaseMs,
        backtestId: bt.id,
        projectId: bt.project_id,
        modelVersionId: plan.model.id,
        manifest: plan.model.manifest,
        model: await this.workerBlob(plan.model.sha256),
        rules: [...plan.rules],
        bounds: plan.bounds,
        projectChampionId: plan.projectChampionId,
        frames: plan.frames,
        files: await Promise.all(mediaOf(plan).map((sha) => this.workerBlob(sha))),
      };
    } catch (err) {
      // no frames left in the window, the model's file gone: fail it as a local backtest would
      await this.#end(row, attempt, { error: backtestError(err) });
      return null;
    }
  }

  /** One blob the held attempt `row` reads, as a stream with its size. */
  async blob(row: JobRow, attempt: number, sha256: string): Promise<{ stream: Readable; size: number }> {
    return this.grants.stream(row.id, attempt, sha256, async () => readable(await this.#service.plan(row.ref_id)));
  }

  /** Stores a worker's result once: the job ends and the backtest's report is written in one transaction. */
  async complete(jobId: string, holder: string, body: WorkerBacktestResult): Promise<WorkerBacktestReply> {
    if ((body.report === null) === (body.error === null)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "a backtest result carries either a report or an error");
    }
    const report = body.report ? checked(body.report, body.frames) : null;
    const status = report ? "succeeded" : "failed";
    return this.once<WorkerBacktestReply>(
      jobId,
      holder,
      body.attempt,
      status,
      async (row) => {
        if (row.type !== "backtest") throw new KensaError("KENSA_ERR_VALIDATION", `job ${jobId} is not a backtest`);
        await this.#end(row, body.attempt, report ? { report, frames: body.frames } : { error: body.error! });
        this.d.log.info({ job: jobId, backtest: row.ref_id, worker: holder }, `remote backtest ${status}`);
        return { backtestId: row.ref_id, status, duplicate: false };
      },
      (job) => ({ backtestId: job.ref_id, status, duplicate: true }),
    );
  }

  /** After a remote attempt was given back: the backtest is queued again for the next worker (or this hub). */
  async requeued(row: JobRow, why: string): Promise<void> {
    this.forget(row.id);
    await this.#service.store.requeued(row.ref_id);
    this.d.log.warn({ job: row.id, backtest: row.ref_id, worker: row.claimed_by }, `remote backtest re-queued: ${why}`);
  }

  /** Ends the attempt and stores how the backtest ended, together; LEASE_LOST when another end won. */
  async #end(row: JobRow, attempt: number, end: End): Promise<void> {
    const { store } = this.#service;
    const outcome =
      "report" in end
        ? ({ status: "succeeded", error: null } as const)
        : ({ status: "failed", error: end.error } as const);
    await this.end(row, attempt, outcome, async (trx) => {
      if ("report" in end) await store.succeeded(row.ref_id, end.report, end.frames, trx);
      else await store.failed(row.ref_id, end.error, trx);
    });
  }
}

/** every frame's media, each once */
function mediaOf(plan: Pick<BacktestPlan, "frames">): string[] {
  return [...new Set(plan.frames.flatMap((f) => (f.mediaSha256 ? [f.mediaSha256] : [])))];
}

/** every blob a backtest reads: the candidate's model and its frames */
function readable(plan: BacktestPlan): Set<string> {
  return new Set([plan.model.sha256, ...mediaOf(plan)]);
}

/** The posted report, if its rules are rules and its counts are those of its frames (else it would be stored as a lie). */
function checked(report: NonNullable<WorkerBacktestResult["report"]>, frames: WorkerBacktestResult["frames"]) {
  const { rules } = report;
  if (!checkRules.check(rules)) {
    throw new KensaError("KENSA_ERR_VALIDATION", "the backtest report's rules are not rules of a bundle");
  }
  const ids = new Set([...frames.map((f) => f.frameId), ...report.skipped.map((s) => s.frameId)]);
  const counted = tally(frames, report.skipped);
  const stated = { totals: report.totals, perDay: report.perDay, perDevice: report.perDevice };
  if (ids.size !== frames.length + report.skipped.length || !isDeepStrictEqual(counted, stated)) {
    throw new KensaError(
      "KENSA_ERR_VALIDATION",
      "the backtest report's counts are not those of its frames (a frame twice, or figures that do not add up)",
    );
  }
  return { ...report, rules };
}
