import type { Readable } from "node:stream";
import { KensaError } from "@kensa/contracts";
import type { BlobStore } from "../blobstore/blob-store.js";

/**
 * The blobs each handed-out attempt of a remote job may read: a worker's job-scoped blob route
 * serves these and nothing else. The list is kept per replica; an attempt handed out by another
 * replica, or before this hub restarted, gets the same list again from the job's plan.
 */
export class JobBlobGrants {
  readonly #blobs: BlobStore;
  /** by `jobId#attempt` */
  readonly #files = new Map<string, Set<string>>();

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  grant(jobId: string, attempt: number, files: Set<string>): void {
    this.#files.set(`${jobId}#${attempt}`, files);
  }

  /**
   * One blob the attempt reads, as a stream with its size; `plan` lists the job's blobs when
   * this replica did not hand the attempt out. Throws KENSA_ERR_BLOB_NOT_FOUND for a blob the job
   * does not read, or one the store no longer has.
   */
  async stream(
    jobId: string,
    attempt: number,
    sha256: string,
    plan: () => Promise<Set<string>>,
  ): Promise<{ stream: Readable; size: number }> {
    const key = `${jobId}#${attempt}`;
    let allowed = this.#files.get(key);
    if (!allowed) {
      allowed = await plan();
      this.#files.set(key, allowed);
    }
    const found = allowed.has(sha256) ? await this.#blobs.stream(sha256) : null;
    if (!found) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `job ${jobId} reads no blob ${sha256}`);
    return found;
  }

  /** drops every attempt's list of a job that ended */
  forget(jobId: string): void {
    for (const k of this.#files.keys()) if (k.startsWith(`${jobId}#`)) this.#files.delete(k);
  }
}
