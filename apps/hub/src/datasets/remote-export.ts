import { KensaError, type WorkerExportJob, type WorkerExportReply, type WorkerExportResult } from "@kensa/contracts";
import type { JobRow } from "../jobs/remote-claims.js";
import { RemoteJobBase, type RemoteJobDeps, type RemoteJobKind } from "../jobs/remote-job-kind.js";
import { exportBlobs } from "./export-build.js";
import type { ExportJobs } from "./export-jobs.js";

export interface RemoteExportsDeps extends RemoteJobDeps {
  jobs: ExportJobs;
}

/**
 * Export jobs on `kensa worker` (training.remote.localExports false): the hub plans the export
 * (the snapshot's or the project's samples, named as the streamed export names them) and hands
 * out the items with their images and masks by sha256; the worker builds the archive with the
 * hub's own export code and uploads it (hash-checked), and the hub records it once, in the
 * transaction that ends the job.
 */
export class RemoteExports extends RemoteJobBase implements RemoteJobKind {
  readonly type = "export" as const;
  readonly replyKey = "export" as const;
  readonly #jobs: ExportJobs;

  constructor(d: RemoteExportsDeps) {
    super(d);
    this.#jobs = d.jobs;
  }

  async fits(): Promise<boolean> {
    return true;
  }

  async stage(row: JobRow, attempt: number): Promise<WorkerExportJob | null> {
    if (attempt > this.d.maxAttempts) {
      const message = `the export was claimed ${attempt - 1} times by workers and never finished`;
      await this.#failed(row, attempt, { code: "KENSA_ERR_DATASET_EXPORT_INTERRUPTED", message });
      return null;
    }
    try {
      const { payload, plan } = await this.#jobs.planOf(row);
      const files = exportBlobs(plan.items);
      this.grants.grant(row.id, attempt, new Set(files));
      return {
        jobId: row.id,
        attempt,
        leaseMs: this.d.leaseMs,
        exportId: row.ref_id,
        query: payload.query,
        labels: plan.labels,
        okLabels: plan.okLabels,
        meta: plan.meta,
        items: plan.items,
        files: await Promise.all(files.map((sha) => this.workerBlob(sha))),
      };
    } catch (err) {
      // the snapshot or project is gone: the export fails as a local one would
      const error =
        err instanceof KensaError
          ? { code: err.code, message: err.message }
          : { code: "KENSA_ERR_INTERNAL", message: String(err) };
      await this.#failed(row, attempt, error);
      return null;
    }
  }

  async blob(row: JobRow, attempt: number, sha256: string) {
    return this.grants.stream(
      row.id,
      attempt,
      sha256,
      async () => new Set(exportBlobs((await this.#jobs.planOf(row)).plan.items)),
    );
  }

  /** Records the uploaded archive (or why it could not be built) once. */
  async complete(jobId: string, holder: string, body: WorkerExportResult): Promise<WorkerExportReply> {
    if ((body.archive === null) === (body.error === null)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "an export result carries either an archive or an error");
    }
    return this.once<WorkerExportReply>(
      jobId,
      holder,
      body.attempt,
      body.archive ? "succeeded" : "failed",
      async (row) => {
        if (row.type !== "export") throw new KensaError("KENSA_ERR_VALIDATION", `job ${jobId} is not an export`);
        if (body.error) {
          await this.#failed(row, body.attempt, body.error);
          return { exportId: row.ref_id, status: "failed", duplicate: false };
        }
        const { sha256, size } = body.archive!;
        if (!(await this.d.blobs.has(sha256))) {
          throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the archive ${sha256} was never uploaded`);
        }
        const { payload, plan } = await this.#jobs.planOf(row);
        const archive = { sha256, size, filename: plan.filename, contentType: plan.contentType };
        await this.end(row, body.attempt, { status: "succeeded", error: null }, (trx) =>
          this.#jobs.built(trx, row.id, payload, archive),
        );
        this.d.log.info(
          { job: jobId, export: row.ref_id, worker: holder, bytes: size },
          "remote dataset export stored",
        );
        return { exportId: row.ref_id, status: "succeeded", duplicate: false };
      },
      (job) => ({ exportId: job.ref_id, status: job.status as "succeeded" | "failed", duplicate: true }),
    );
  }

  async fail(jobId: string, holder: string, attempt: number, error: { code: string; message: string }) {
    await this.complete(jobId, holder, { workerId: holder, attempt, archive: null, error });
  }

  async requeued(row: JobRow, why: string): Promise<void> {
    this.forget(row.id);
    this.d.log.warn({ job: row.id, export: row.ref_id, worker: row.claimed_by }, `remote export re-queued: ${why}`);
  }

  async #failed(row: JobRow, attempt: number, error: { code: string; message: string }): Promise<void> {
    await this.end(row, attempt, { status: "failed", error }, async () => {});
  }
}
