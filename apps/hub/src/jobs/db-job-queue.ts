import { randomBytes } from "node:crypto";
import { type Job, type JobStatus, type JobType, KensaError } from "@kensa/contracts";
import type { ExpressionBuilder, Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase, JobsTable } from "../db/schema.js";
import type { ClaimedJob, JobEnd, JobQueue, NewJob } from "./job-queue.js";

/** ms a claim lasts unless renewed, by default */
export const DEFAULT_JOB_LEASE_MS = 30_000;

/**
 * The job queue in the metadata store (SQLite or PostgreSQL, same SQL). A claim is one
 * conditional UPDATE (`status = 'queued'` still true), so of two workers racing for a job
 * exactly one sees a changed row; taking over an orphan is the same with an expired lease.
 */
export class DbJobQueue implements JobQueue {
  #db: Kysely<HubDatabase>;
  /** ms */
  readonly leaseMs: number;

  constructor(db: Kysely<HubDatabase>, opts: { leaseMs?: number } = {}) {
    this.#db = db;
    this.leaseMs = opts.leaseMs ?? DEFAULT_JOB_LEASE_MS;
  }

  async enqueue(job: NewJob, trx: Kysely<HubDatabase> = this.#db): Promise<Job> {
    const row: JobsTable = {
      id: `job_${randomBytes(12).toString("base64url")}`,
      type: job.type,
      project_id: job.projectId,
      ref_id: job.refId,
      payload: JSON.stringify(job.payload ?? {}),
      status: "queued",
      attempts: 0,
      claimed_by: null,
      lease_until: null,
      error: null,
      created_at: isoNow(),
      started_at: null,
      finished_at: null,
    };
    await trx.insertInto("jobs").values(row).execute();
    return toJob(row);
  }

  async claim(workerId: string, types: readonly JobType[]): Promise<ClaimedJob | null> {
    if (types.length === 0) return null;
    // a few candidates, oldest first: another worker may take the first between read and update
    const candidates = await this.#db
      .selectFrom("jobs")
      .select(["id"])
      .where("status", "=", "queued")
      .where("type", "in", [...types])
      .orderBy("created_at", "asc")
      .limit(5)
      .execute();
    for (const c of candidates) {
      const res = await this.#db
        .updateTable("jobs")
        .set((eb) => ({
          status: "running",
          claimed_by: workerId,
          lease_until: this.#leaseEnd(),
          started_at: isoNow(),
          attempts: eb("attempts", "+", 1),
        }))
        .where("id", "=", c.id)
        .where("status", "=", "queued")
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        const row = await this.#db.selectFrom("jobs").selectAll().where("id", "=", c.id).executeTakeFirstOrThrow();
        return toClaimed(row);
      }
    }
    return null;
  }

  async renew(workerId: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const held = await this.#db
      .updateTable("jobs")
      .set({ lease_until: this.#leaseEnd() })
      .where("id", "in", [...ids])
      .where("status", "=", "running")
      .where("claimed_by", "=", workerId)
      .returning("id")
      .execute();
    const kept = new Set(held.map((r) => r.id));
    return ids.filter((id) => !kept.has(id));
  }

  async finish(id: string, end: JobEnd, workerId: string): Promise<boolean> {
    const res = await this.#db
      .updateTable("jobs")
      .set(
        end.status === "queued"
          ? { status: "queued", claimed_by: null, lease_until: null, started_at: null }
          : {
              status: end.status,
              lease_until: null,
              error: "error" in end ? JSON.stringify(end.error) : null,
              finished_at: isoNow(),
            },
      )
      .where("id", "=", id)
      .where("status", "=", "running")
      .where("claimed_by", "=", workerId)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async cancelQueued(id: string, error: { code: string; message: string }): Promise<boolean> {
    const res = await this.#db
      .updateTable("jobs")
      .set({ status: "cancelled", error: JSON.stringify(error), finished_at: isoNow() })
      .where("id", "=", id)
      .where("status", "=", "queued")
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async orphans(workerId: string): Promise<ClaimedJob[]> {
    const now = isoNow();
    const expired = (eb: ExpressionBuilder<HubDatabase, "jobs">) =>
      eb.and([eb("status", "=", "running"), eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)])]);
    const candidates = await this.#db.selectFrom("jobs").select("id").where(expired).orderBy("created_at").execute();
    const out: ClaimedJob[] = [];
    for (const c of candidates) {
      // conditional, like a claim: of two hubs taking over one orphan, one wins
      const row = await this.#db
        .updateTable("jobs")
        .set({ claimed_by: workerId, lease_until: this.#leaseEnd() })
        .where("id", "=", c.id)
        .where(expired)
        .returningAll()
        .executeTakeFirst();
      if (row) out.push(toClaimed(row));
    }
    return out;
  }

  async get(id: string): Promise<Job | null> {
    const row = await this.#db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toJob(row) : null;
  }

  async list(q: { status?: JobStatus; type?: JobType; projectId?: string; limit: number }): Promise<Job[]> {
    let query = this.#db.selectFrom("jobs").selectAll().orderBy("created_at", "desc").limit(q.limit);
    if (q.status) query = query.where("status", "=", q.status);
    if (q.type) query = query.where("type", "=", q.type);
    if (q.projectId) query = query.where("project_id", "=", q.projectId);
    return (await query.execute()).map(toJob);
  }

  #leaseEnd(): string {
    return new Date(Date.now() + this.leaseMs).toISOString();
  }

  async busy(projectId: string, types: readonly JobType[]): Promise<boolean> {
    const row = await this.#db
      .selectFrom("jobs")
      .select("id")
      .where("project_id", "=", projectId)
      .where("type", "in", [...types])
      .where("status", "in", ["queued", "running"])
      .executeTakeFirst();
    return row !== undefined;
  }
}

/** throws KENSA_ERR_JOB_NOT_FOUND */
export async function requireJob(queue: JobQueue, id: string): Promise<Job> {
  const job = await queue.get(id);
  if (!job) throw new KensaError("KENSA_ERR_JOB_NOT_FOUND", `no job with id "${id}"`);
  return job;
}

function toClaimed(row: Selectable<JobsTable>): ClaimedJob {
  return {
    id: row.id,
    type: row.type as JobType,
    projectId: row.project_id,
    refId: row.ref_id,
    payload: JSON.parse(row.payload) as unknown,
    attempts: Number(row.attempts),
  };
}

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    type: row.type as JobType,
    projectId: row.project_id,
    refId: row.ref_id,
    status: row.status as JobStatus,
    attempts: Number(row.attempts),
    error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : null,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
