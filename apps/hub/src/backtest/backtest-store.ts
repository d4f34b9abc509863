import { type Backtest, type BacktestFrame, type BacktestReport, type JobStatus, KensaError } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { BacktestsTable } from "../db/schema/backtests.js";
import type { HubDatabase } from "../db/schema.js";

/** why a backtest failed: a catalog code and a message */
type Failure = { code: string; message: string };

/** The backtests table: one row per backtest, its report and frames written once at the end. */
export class BacktestStore {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  async insert(row: BacktestsTable, trx: Kysely<HubDatabase> = this.#db): Promise<void> {
    await trx.insertInto("backtests").values(row).execute();
  }

  /** throws KENSA_ERR_BACKTEST_NOT_FOUND */
  async row(id: string): Promise<Selectable<BacktestsTable>> {
    const row = await this.#db.selectFrom("backtests").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_BACKTEST_NOT_FOUND", `no backtest with id "${id}"`);
    return row;
  }

  async get(id: string): Promise<Backtest> {
    return toBacktest(await this.row(id));
  }

  async list(projectId: string, q: { modelVersionId?: string | undefined; limit: number }): Promise<Backtest[]> {
    let query = this.#db
      .selectFrom("backtests")
      // the frames can be megabytes: a list never reads them
      .select([
        "id",
        "project_id",
        "model_version_id",
        "status",
        "request",
        "job_id",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "report",
      ])
      .where("project_id", "=", projectId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(q.limit);
    if (q.modelVersionId) query = query.where("model_version_id", "=", q.modelVersionId);
    return (await query.execute()).map((r) => toBacktest({ ...r, frames: null }));
  }

  /** the stored frames of a finished backtest ([] before it finished) */
  async frames(id: string): Promise<BacktestFrame[]> {
    const row = await this.#db.selectFrom("backtests").select("frames").where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_BACKTEST_NOT_FOUND", `no backtest with id "${id}"`);
    return row.frames ? (JSON.parse(row.frames) as BacktestFrame[]) : [];
  }

  async setJob(id: string, jobId: string, trx: Kysely<HubDatabase> = this.#db): Promise<void> {
    await trx.updateTable("backtests").set({ job_id: jobId }).where("id", "=", id).execute();
  }

  async started(id: string): Promise<void> {
    await this.#db
      .updateTable("backtests")
      .set({ status: "running", started_at: isoNow(), error: null })
      .where("id", "=", id)
      .execute();
  }

  /** back in the queue (the hub stopped mid-backtest, its worker gave it back or went silent; it runs again from the start) */
  async requeued(id: string): Promise<void> {
    await this.#db
      .updateTable("backtests")
      .set({ status: "queued" })
      .where("id", "=", id)
      .where("status", "=", "running")
      .execute();
  }

  /** pass the transaction that ends the job (a worker's result) */
  async succeeded(
    id: string,
    report: BacktestReport,
    frames: readonly BacktestFrame[],
    trx: Kysely<HubDatabase> = this.#db,
  ): Promise<void> {
    await trx
      .updateTable("backtests")
      .set({
        status: "succeeded",
        report: JSON.stringify(report),
        frames: JSON.stringify(frames),
        finished_at: isoNow(),
      })
      .where("id", "=", id)
      .execute();
  }

  async failed(id: string, error: Failure, trx: Kysely<HubDatabase> = this.#db): Promise<void> {
    await trx
      .updateTable("backtests")
      .set({ status: "failed", error: JSON.stringify(error), finished_at: isoNow() })
      .where("id", "=", id)
      .execute();
  }
}

export function toBacktest(r: Selectable<BacktestsTable>): Backtest {
  return {
    id: r.id,
    projectId: r.project_id,
    modelVersionId: r.model_version_id,
    status: r.status as JobStatus,
    request: JSON.parse(r.request) as Backtest["request"],
    jobId: r.job_id,
    createdBy: r.created_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error ? (JSON.parse(r.error) as Failure) : null,
    report: r.report ? (JSON.parse(r.report) as BacktestReport) : null,
  };
}
