import type { Readable } from "node:stream";
import { isKensaError, KensaError, type WorkerBlob, type WorkerClaimReply } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import { JobBlobGrants } from "./job-blob-grants.js";
import type { JobRow, RemoteClaims } from "./remote-claims.js";

/** s a presigned blob URL stays valid: long enough for a slow link to fetch a large archive or every image */
const PRESIGN_TTL_SEC = 3600;

/** The claim reply's field a kind's staged job goes in. */
export type RemoteReplyKey = Exclude<keyof WorkerClaimReply, "job" | "evaluation" | "backtest">;

/**
 * One kind of job `kensa worker` runs besides training, evaluation and backtests, as the hub's
 * worker routes drive it (training/remote-training.ts keeps a registry of them by job type).
 */
export interface RemoteJobKind {
  /** the job type, and the kind a worker lists in its capabilities */
  readonly type: "import" | "export";
  readonly replyKey: RemoteReplyKey;
  /** whether a queued job may be claimed now (one import per project at a time) */
  fits(row: JobRow): Promise<boolean>;
  /** the claimed job staged for the worker; null when it needed no worker (ended already) */
  stage(row: JobRow, attempt: number): Promise<unknown>;
  blob(row: JobRow, attempt: number, sha256: string): Promise<{ stream: Readable; size: number }>;
  /** stores a blob the held attempt made, refused unless it hashes to `sha256` */
  upload(bytes: AsyncIterable<Uint8Array>, sha256: string): Promise<{ sha256: string; size: number }>;
  fail(jobId: string, holder: string, attempt: number, error: { code: string; message: string }): Promise<void>;
  release(jobId: string, holder: string, attempt: number): Promise<void>;
  requeued(row: JobRow, why: string): Promise<void>;
}

/**
 * What the worker routes of one kind's jobs need of the hub's registry of remote job kinds
 * (training/remote-training.ts): the kind that runs a job type, the claims and the lease timing.
 */
export interface RemoteJobKinds {
  readonly claims: RemoteClaims;
  kindOf(type: string): RemoteJobKind | null;
  readonly leaseReply: { leaseMs: number; pollMs: number };
}

export interface RemoteJobDeps {
  db: Kysely<HubDatabase>;
  claims: RemoteClaims;
  blobs: BlobStore;
  log: FastifyBaseLogger;
  leaseMs: number;
  /** claims of one job by workers before the hub fails it (one that crashes every worker) */
  maxAttempts: number;
  /** the job left its worker (the workers' listing) */
  forget: (jobId: string) => void;
}

export type JobOutcome =
  | { status: "succeeded"; error: null }
  | { status: "failed"; error: { code: string; message: string } };

/**
 * The skeleton every remote job but training shares (imports, exports, evaluations, backtests):
 * blob grants per attempt, an end recorded in the transaction that ends the attempt (so of a
 * late, repeated or concurrent result exactly one counts, and a result after lease loss is
 * refused with KENSA_ERR_WORKER_LEASE_LOST), a repeated post answered as stored, and release /
 * re-queue.
 */
export abstract class RemoteJobBase {
  protected readonly d: RemoteJobDeps;
  protected readonly grants: JobBlobGrants;

  constructor(d: RemoteJobDeps) {
    this.d = d;
    this.grants = new JobBlobGrants(d.blobs);
  }

  /** what happens to the job's own record when its attempt was given back */
  abstract requeued(row: JobRow, why: string): Promise<void>;

  /** The worker gives the job back (it is stopping): queued again at once. */
  async release(jobId: string, holder: string, attempt: number): Promise<void> {
    const row = await this.d.claims.held(jobId, holder, attempt);
    if (!(await this.d.claims.end(jobId, holder, attempt, { status: "queued" }))) {
      await this.d.claims.held(jobId, holder, attempt);
    }
    await this.requeued(row, "its worker released it (the worker is stopping)");
  }

  /**
   * Runs `record` for a result of `attempt`: `row` is the held job (a repeated post of an
   * attempt that already ended as `status` answers `repeated` instead; anything else is
   * KENSA_ERR_WORKER_LEASE_LOST).
   */
  protected async once<R>(
    jobId: string,
    holder: string,
    attempt: number,
    status: JobOutcome["status"],
    record: (row: JobRow) => Promise<R>,
    repeated: (row: JobRow) => R,
  ): Promise<R> {
    const again = async (err: unknown): Promise<R> => {
      const job = await this.d.db.selectFrom("jobs").selectAll().where("id", "=", jobId).executeTakeFirst();
      if (job?.status === status && job.claimed_by === holder && Number(job.attempts) === attempt) {
        return repeated(job);
      }
      throw err;
    };
    const row = await this.d.claims.held(jobId, holder, attempt).catch(async (err: unknown) => ({ err }));
    if ("err" in row) return again(row.err);
    try {
      return await record(row);
    } catch (err) {
      if (isKensaError(err) && err.code === "KENSA_ERR_WORKER_LEASE_LOST") return again(err);
      throw err;
    }
  }

  /** Ends the attempt as `end` and writes what it produced in the same transaction; LEASE_LOST when another end won. */
  protected async end(
    row: JobRow,
    attempt: number,
    end: JobOutcome,
    write: (trx: Kysely<HubDatabase>) => Promise<void>,
  ): Promise<void> {
    const holder = row.claimed_by!;
    await this.d.db.transaction().execute(async (trx) => {
      if (!(await this.d.claims.end(row.id, holder, attempt, end, trx))) {
        await this.d.claims.held(row.id, holder, attempt, trx);
        throw new KensaError("KENSA_ERR_WORKER_LEASE_LOST", `job ${row.id} ended while recording its result`);
      }
      await write(trx);
    });
    this.forget(row.id);
  }

  /**
   * Stores one blob an attempt made (an image, a mask, an archive), refused unless its content
   * hashes to `sha256` (content-addressed: a repeated upload stores nothing new).
   */
  async upload(bytes: AsyncIterable<Uint8Array>, sha256: string): Promise<{ sha256: string; size: number }> {
    const info = await this.d.blobs.put(bytes, { expectedSha256: sha256 });
    return { sha256: info.sha256, size: info.size };
  }

  protected forget(jobId: string): void {
    this.grants.forget(jobId);
    this.d.forget(jobId);
  }

  /** a blob the worker fetches: presigned when the store hands out URLs, else through the job's blob route */
  protected async workerBlob(sha256: string): Promise<WorkerBlob> {
    const url = this.d.blobs.presignGet ? await this.d.blobs.presignGet(sha256, PRESIGN_TTL_SEC) : null;
    return { sha256, url };
  }
}
