import type { Readable } from "node:stream";
import { type DatasetExport, type ExportQuery, KensaError } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase, JobsTable } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import type { JobHandler, JobWorker } from "../jobs/job-worker.js";
import { newDatasetId } from "./dataset-ids.js";
import { buildExport } from "./export-build.js";
import type { ExportService } from "./export-service.js";
import type { FormatRegistry } from "./formats/format-registry.js";

/** A queued export's job payload: its query, and once built, its archive. */
export interface ExportPayload {
  query: ExportQuery;
  archive?: NonNullable<DatasetExport["archive"]>;
}

/**
 * Exports as jobs (`POST /projects/:id/exports`): each is one `export` job on the hub's queue,
 * whose payload holds the query and, once built, the archive's blob. A job is built here by the
 * hub's own job worker (training.remote.localExports) or by a `kensa worker` that runs exports
 * (remote-export.ts); both build it with buildExport from the same plan, so the archive is
 * byte-identical to the streamed export of the same query.
 */
export class ExportJobs {
  readonly #db: Kysely<HubDatabase>;
  readonly #blobs: BlobStore;
  readonly #exports: ExportService;
  readonly #formats: FormatRegistry;
  readonly #log: FastifyBaseLogger;
  #queue: JobQueue | null = null;
  #worker: JobWorker | null = null;

  constructor(d: {
    db: Kysely<HubDatabase>;
    blobs: BlobStore;
    exports: ExportService;
    formats: FormatRegistry;
    log: FastifyBaseLogger;
  }) {
    this.#db = d.db;
    this.#blobs = d.blobs;
    this.#exports = d.exports;
    this.#formats = d.formats;
    this.#log = d.log;
  }

  /** the queue export jobs go in, and the job worker that builds them here (none with local exports off) */
  attachQueue(queue: JobQueue, worker: JobWorker): void {
    this.#queue = queue;
    this.#worker = worker;
  }

  /** starts building queued exports here (once the hub listens) */
  startWorker(): void {
    this.#worker?.start();
  }

  /** stops building here; an export in progress goes back in the queue */
  async stopWorker(): Promise<void> {
    await this.#worker?.stop();
  }

  /** Checks the query (project, snapshot, split) and queues the export. */
  async start(projectId: string, query: ExportQuery): Promise<DatasetExport> {
    if (!this.#queue) throw new KensaError("KENSA_ERR_VALIDATION", "this hub queues no export");
    const plan = await this.#exports.plan(projectId, query);
    const id = newDatasetId("exp");
    const payload: ExportPayload = { query };
    await this.#queue.enqueue({ type: "export", projectId: String(plan.meta.projectId), refId: id, payload });
    this.#worker?.kick();
    return this.get(id);
  }

  /** throws KENSA_ERR_EXPORT_NOT_FOUND */
  async get(id: string): Promise<DatasetExport> {
    return toExport(await this.#row(id));
  }

  /** The finished export's archive; KENSA_ERR_EXPORT_NOT_READY before (or after a failure). */
  async download(id: string): Promise<{ stream: Readable; size: number; filename: string; contentType: string }> {
    const exp = toExport(await this.#row(id));
    if (exp.status !== "succeeded" || !exp.archive) {
      throw new KensaError("KENSA_ERR_EXPORT_NOT_READY", `export ${id} is ${exp.status}`, { status: exp.status });
    }
    const found = await this.#blobs.stream(exp.archive.sha256);
    if (!found) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the archive of export ${id} is gone`);
    return { ...found, filename: exp.archive.filename, contentType: exp.archive.contentType };
  }

  /** What a job's export holds (plan) and its payload. */
  async planOf(row: Pick<JobsTable, "project_id" | "payload">) {
    const payload = JSON.parse(row.payload) as ExportPayload;
    return { payload, plan: await this.#exports.plan(row.project_id, payload.query) };
  }

  /** Records the built archive in the job's payload; pass the transaction that ends the job. */
  async built(
    db: Kysely<HubDatabase>,
    jobId: string,
    payload: ExportPayload,
    archive: NonNullable<DatasetExport["archive"]>,
  ) {
    const next: ExportPayload = { ...payload, archive };
    await db
      .updateTable("jobs")
      .set({ payload: JSON.stringify(next) })
      .where("id", "=", jobId)
      .execute();
  }

  /** Builds exports on this hub (training.remote.localExports). */
  handler(): JobHandler {
    return {
      type: "export",
      run: async (job, signal) => {
        const row = await this.#db.selectFrom("jobs").selectAll().where("id", "=", job.id).executeTakeFirstOrThrow();
        const { payload, plan } = await this.planOf(row);
        const blobs = this.#blobs;
        const chunks = buildExport(plan, this.#formats, (sha) => blobs.get(sha));
        async function* abortable() {
          for await (const c of chunks) {
            signal.throwIfAborted();
            yield c;
          }
        }
        try {
          const info = await blobs.put(abortable());
          const archive = {
            sha256: info.sha256,
            size: info.size,
            filename: plan.filename,
            contentType: plan.contentType,
          };
          await this.built(this.#db, job.id, payload, archive);
          this.#log.info({ job: job.id, export: job.refId, bytes: info.size }, "dataset export built");
          return { status: "succeeded" };
        } catch (err) {
          // the hub is stopping: the export is built again by whoever claims it next
          if (signal.aborted && signal.reason === "shutdown") return { status: "queued" };
          throw err;
        }
      },
    };
  }

  async #row(id: string): Promise<Selectable<JobsTable>> {
    const row = await this.#db
      .selectFrom("jobs")
      .selectAll()
      .where("type", "=", "export")
      .where("ref_id", "=", id)
      .executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_EXPORT_NOT_FOUND", `no export with id "${id}"`);
    return row;
  }
}

function toExport(row: Selectable<JobsTable>): DatasetExport {
  const payload = JSON.parse(row.payload) as ExportPayload;
  return {
    id: row.ref_id,
    projectId: row.project_id,
    query: payload.query,
    status: row.status as DatasetExport["status"],
    archive: row.status === "succeeded" ? (payload.archive ?? null) : null,
    error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : null,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}
