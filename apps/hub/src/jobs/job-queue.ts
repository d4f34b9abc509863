import type { Job, JobStatus, JobType } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** A job as a worker sees it after claiming it. */
export interface ClaimedJob {
  id: string;
  type: JobType;
  projectId: string;
  refId: string;
  payload: unknown;
  /** claims so far, this one included */
  attempts: number;
}

export interface NewJob {
  type: JobType;
  projectId: string;
  refId: string;
  payload?: unknown;
}

export type JobEnd =
  | { status: "succeeded" }
  | { status: "failed" | "cancelled"; error: { code: string; message: string } }
  /** give the job back (the hub is stopping mid-job and the job is safe to run again) */
  | { status: "queued" };

/**
 * The queue every long job goes through (training, evaluation, gate): persistent, so queued
 * jobs survive a restart, and claimed atomically, so two workers (or two hubs on one
 * database) never run the same job. A claim is a lease its worker renews while the job runs;
 * a job whose lease ran out (its hub died) is an orphan another hub takes over.
 */
export interface JobQueue {
  /** adds a job; pass the caller's transaction to commit it with the row it works on */
  enqueue(job: NewJob, trx?: Kysely<HubDatabase>): Promise<Job>;
  /** the oldest queued job of one of `types`, now running and leased to `workerId`, or null */
  claim(workerId: string, types: readonly JobType[]): Promise<ClaimedJob | null>;
  /** extends the leases `workerId` still holds on `ids`; returns the ids it no longer holds */
  renew(workerId: string, ids: readonly string[]): Promise<string[]>;
  /** records how the job ended, unless `workerId` no longer holds it (another hub took it over) */
  finish(id: string, end: JobEnd, workerId: string): Promise<boolean>;
  /** cancels a job that no worker has claimed yet; false when it is running or done */
  cancelQueued(id: string, error: { code: string; message: string }): Promise<boolean>;
  /**
   * Jobs left `running` by a hub that stopped (their lease ran out, or they were claimed before
   * leases existed), each now leased to `workerId`, which decides per job and finishes it.
   */
  orphans(workerId: string): Promise<ClaimedJob[]>;
  get(id: string): Promise<Job | null>;
  list(q: { status?: JobStatus; type?: JobType; projectId?: string; limit: number }): Promise<Job[]>;
  /** whether any job of these types and project is queued or running (triggers start no second run) */
  busy(projectId: string, types: readonly JobType[]): Promise<boolean>;
}
