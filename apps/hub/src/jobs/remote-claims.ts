import { KensaError } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase, JobsTable } from "../db/schema.js";

/** `claimed_by` of a job a remote worker holds: `remote:<token name>:<worker id>`. */
export const REMOTE_HOLDER_PREFIX = "remote:";

export function remoteHolder(tokenName: string, workerId: string): string {
  return `${REMOTE_HOLDER_PREFIX}${tokenName}:${workerId}`;
}

export type JobRow = Selectable<JobsTable>;

/**
 * The job queue as remote workers use it: the same `jobs` rows and the same conditional
 * UPDATEs as local workers (so a job is held by exactly one of them), plus what only remote
 * claims need — a claim that skips jobs this worker cannot run, a check of holder and attempt
 * on every call, and re-queueing (not failing) a job whose worker went silent.
 */
export class RemoteClaims {
  #db: Kysely<HubDatabase>;
  readonly leaseMs: number;

  constructor(db: Kysely<HubDatabase>, leaseMs: number) {
    this.#db = db;
    this.leaseMs = leaseMs;
  }

  /** The oldest queued job of `type` (one of `type`) that `fits`, now running and leased to `holder`; or null. */
  async claim(
    holder: string,
    type: JobsTable["type"] | readonly JobsTable["type"][],
    fits: (job: JobRow) => Promise<boolean>,
  ): Promise<JobRow | null> {
    const types = typeof type === "string" ? [type] : [...type];
    if (types.length === 0) return null;
    const candidates = await this.#db
      .selectFrom("jobs")
      .selectAll()
      .where("status", "=", "queued")
      .where("type", "in", types)
      .orderBy("created_at", "asc")
      .limit(50)
      .execute();
    for (const c of candidates) {
      if (!(await fits(c))) continue;
      const res = await this.#db
        .updateTable("jobs")
        .set((eb) => ({
          status: "running",
          claimed_by: holder,
          lease_until: this.#leaseEnd(),
          started_at: isoNow(),
          attempts: eb("attempts", "+", 1),
        }))
        .where("id", "=", c.id)
        .where("status", "=", "queued")
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        return this.#db.selectFrom("jobs").selectAll().where("id", "=", c.id).executeTakeFirstOrThrow();
      }
    }
    return null;
  }

  /** The job, if `holder` still holds this attempt of it; else KENSA_ERR_WORKER_LEASE_LOST (or JOB_NOT_FOUND). */
  async held(id: string, holder: string, attempt: number, db: Kysely<HubDatabase> = this.#db): Promise<JobRow> {
    const row = await db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_JOB_NOT_FOUND", `no job with id "${id}"`);
    if (row.status !== "running" || row.claimed_by !== holder || Number(row.attempts) !== attempt) {
      throw new KensaError(
        "KENSA_ERR_WORKER_LEASE_LOST",
        `job ${id} attempt ${attempt} is no longer held by this worker (the job is ${row.status}, attempt ${row.attempts})`,
        { status: row.status, attempts: Number(row.attempts) },
      );
    }
    return row;
  }

  /** extends the lease; KENSA_ERR_WORKER_LEASE_LOST when the worker no longer holds it */
  async renew(id: string, holder: string, attempt: number): Promise<void> {
    const res = await this.#db
      .updateTable("jobs")
      .set({ lease_until: this.#leaseEnd() })
      .where("id", "=", id)
      .where("status", "=", "running")
      .where("claimed_by", "=", holder)
      .where("attempts", "=", attempt)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) await this.held(id, holder, attempt);
  }

  /**
   * Ends the attempt: `queued` gives it back (released, or its worker went silent), else its
   * outcome. Conditional on holder and attempt, so of two racing ends exactly one counts; pass
   * the transaction that records what the outcome produced (a model version).
   */
  async end(
    id: string,
    holder: string,
    attempt: number,
    end:
      | { status: "queued" }
      | { status: "succeeded" | "failed" | "cancelled"; error: { code: string; message: string } | null },
    db: Kysely<HubDatabase> = this.#db,
  ): Promise<boolean> {
    const res = await db
      .updateTable("jobs")
      .set(
        end.status === "queued"
          ? { status: "queued", claimed_by: null, lease_until: null, started_at: null }
          : {
              status: end.status,
              lease_until: null,
              error: end.error ? JSON.stringify(end.error) : null,
              finished_at: isoNow(),
            },
      )
      .where("id", "=", id)
      .where("status", "=", "running")
      .where("claimed_by", "=", holder)
      .where("attempts", "=", attempt)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Remote claims whose lease ran out: each is queued again here (once, whichever replica sees it first). */
  async requeueExpired(): Promise<JobRow[]> {
    const expired = await this.#db
      .selectFrom("jobs")
      .selectAll()
      .where("status", "=", "running")
      .where("claimed_by", "like", `${REMOTE_HOLDER_PREFIX}%`)
      .where("lease_until", "<", isoNow())
      .execute();
    const out: JobRow[] = [];
    for (const row of expired) {
      if (await this.end(row.id, row.claimed_by!, Number(row.attempts), { status: "queued" })) out.push(row);
    }
    return out;
  }

  #leaseEnd(): string {
    return new Date(Date.now() + this.leaseMs).toISOString();
  }
}
