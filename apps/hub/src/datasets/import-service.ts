import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type DatasetImport, type ImportOptions, type ImportResult, isKensaError, KensaError } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { DatasetImportsTable, HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import { countRefusal } from "../limits/limit-refusals.js";
import type { ProjectService } from "../projects/project-service.js";
import { SerialQueue } from "../serial-queue.js";
import { ARCHIVE_LIMITS, type ArchiveLimits } from "./archive/archive-entry.js";
import { newDatasetId } from "./dataset-ids.js";
import type { FormatRegistry } from "./formats/format-registry.js";
import { checkClassFromRule } from "./formats/image-folder-format.js";
import { checkGroupKeyRule } from "./group-key.js";
import { type ImportEnd, importEnd, recordImportEnd } from "./import-record.js";
import { type ImportProgress, parseClassMap, runImport } from "./import-runner.js";

export interface ImportServiceOptions {
  /** where uploaded archives wait while they are imported */
  tmpDir: string;
  /** bytes; largest accepted archive */
  maxArchiveBytes: number;
  /** what an archive may hold once opened (entries, unpacked bytes, compression ratio) */
  archiveLimits?: ArchiveLimits;
}

/**
 * Dataset imports as jobs: the upload is spooled to a temp file, then imported in the
 * background (or before the reply, with `wait`). Imports of one project run one at a time,
 * so duplicate detection sees the previous import's samples.
 */
export class ImportService {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #projects: ProjectService;
  #formats: FormatRegistry;
  #opts: ImportServiceOptions;
  #log: FastifyBaseLogger;
  #queues = new Map<string, SerialQueue>();
  #running = new Map<string, { progress: ImportProgress; done: Promise<void> }>();
  /** with local imports off (training.remote.localImports false): the queue workers claim imports from */
  #queue: JobQueue | null = null;
  /** progress workers reported, by import (per replica, like the listing of workers) */
  #remote = new Map<string, ImportProgress>();

  constructor(
    db: Kysely<HubDatabase>,
    blobs: BlobStore,
    projects: ProjectService,
    formats: FormatRegistry,
    opts: ImportServiceOptions,
    log: FastifyBaseLogger,
  ) {
    this.#db = db;
    this.#blobs = blobs;
    this.#projects = projects;
    this.#formats = formats;
    this.#opts = opts;
    this.#log = log;
  }

  /**
   * Imports left `running` by a hub that stopped never committed (one transaction each):
   * marks them failed so nobody waits for them. Call before serving.
   */
  async recover(): Promise<number> {
    const res = await this.#db
      .updateTable("dataset_imports")
      .set({
        status: "failed",
        finished_at: isoNow(),
        error: JSON.stringify({
          code: "KENSA_ERR_DATASET_IMPORT_INTERRUPTED",
          message: "the hub stopped during this import; nothing was imported",
        }),
      })
      .where("status", "=", "running")
      // an import waiting for (or on) a worker is its job's: the queue survives the restart
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("jobs")
              .select("jobs.id")
              .where("jobs.type", "=", "import")
              .whereRef("jobs.ref_id", "=", "dataset_imports.id")
              .where("jobs.status", "in", ["queued", "running"]),
          ),
        ),
      )
      .executeTakeFirst();
    await rm(this.#opts.tmpDir, { recursive: true, force: true });
    return Number(res.numUpdatedRows ?? 0);
  }

  /**
   * Hands every later import to workers (training.remote.localImports false): the archive is
   * stored as a blob and the import queued as a job a `kensa worker` that runs imports claims.
   */
  onWorkers(queue: JobQueue): void {
    this.#queue = queue;
  }

  /** what an archive may hold once opened (the readers' defaults unless configured) */
  get archiveLimits(): ArchiveLimits {
    return this.#opts.archiveLimits ?? ARCHIVE_LIMITS;
  }

  /** A worker's progress on a queued import (shown by GET /imports/:id); null when it ended. */
  remoteProgress(id: string, p: ImportProgress | null): void {
    if (p) this.#remote.set(id, p);
    else this.#remote.delete(id);
  }

  /** Spools `body`, records the import and starts it; resolves at once unless `options.wait`. */
  async start(projectId: string, options: ImportOptions, body: Readable): Promise<DatasetImport> {
    const project = await this.#projects.get(projectId);
    checkGroupKeyRule(options.groupKey);
    checkClassFromRule(options.classFrom);
    parseClassMap(options.classMap);
    if (options.maskClass && !project.labels.includes(options.maskClass) && !options.addClasses) {
      throw new KensaError(
        "KENSA_ERR_VALIDATION",
        `maskClass "${options.maskClass}" is not one of the project's labels`,
        {
          issues: [{ path: "/maskClass", message: "not one of the project's labels" }],
        },
      );
    }
    const id = newDatasetId("imp");
    await mkdir(this.#opts.tmpDir, { recursive: true });
    const file = join(this.#opts.tmpDir, `${id}.archive`);
    let size = 0;
    const limit = this.#opts.maxArchiveBytes;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > limit) {
              countRefusal("archive_bytes");
              throw new KensaError("KENSA_ERR_UPLOAD_TOO_LARGE", `the archive exceeds ${limit} bytes`);
            }
            yield chunk;
          }
        },
        createWriteStream(file),
      );
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    if (size === 0) {
      await rm(file, { force: true });
      throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "the upload is empty");
    }
    const { wait, ...stored } = options;
    const row: DatasetImportsTable = {
      id,
      project_id: project.id,
      format: options.format,
      options: JSON.stringify(stored),
      status: "running",
      total: 0,
      result: null,
      error: null,
      archive_bytes: size,
      created_by: options.by,
      created_at: isoNow(),
      finished_at: null,
    };
    if (this.#queue) return this.#enqueue(row, file, wait);
    await this.#db.insertInto("dataset_imports").values(row).execute();
    const progress: ImportProgress = { done: 0, total: 0 };
    const queue = this.#queues.get(project.id) ?? new SerialQueue();
    this.#queues.set(project.id, queue);
    const done = queue.run(() => this.#run(id, project.id, options, file, progress));
    this.#running.set(id, { progress, done });
    if (wait) await done;
    return this.get(id);
  }

  /** Stores the spooled archive as a blob and queues the import for a worker, with its row, in one transaction. */
  async #enqueue(row: DatasetImportsTable, file: string, wait: boolean): Promise<DatasetImport> {
    const queue = this.#queue!;
    try {
      const archive = await this.#blobs.put(createReadStream(file));
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto("dataset_imports").values(row).execute();
        await queue.enqueue(
          { type: "import", projectId: row.project_id, refId: row.id, payload: { archive: archive.sha256 } },
          trx,
        );
      });
    } finally {
      await rm(file, { force: true });
    }
    this.#log.info({ importId: row.id, projectId: row.project_id }, "dataset import queued for a worker");
    for (;;) {
      const imp = await this.get(row.id);
      if (!wait || imp.status !== "running") return imp;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #run(
    id: string,
    projectId: string,
    options: ImportOptions,
    file: string,
    progress: ImportProgress,
  ): Promise<void> {
    let end: ImportEnd = { result: null, error: null };
    const timings: { prepareMs?: number; commitMs?: number } = {};
    const started = Date.now();
    try {
      // the project as it is now: an earlier import of the queue may have added classes
      const project = await this.#projects.get(projectId);
      const result = await runImport({
        db: this.#db,
        blobs: this.#blobs,
        project,
        importer: this.#formats.importer(options.format),
        options,
        importId: id,
        archivePath: file,
        ...(this.#opts.archiveLimits ? { archiveLimits: this.#opts.archiveLimits } : {}),
        progress,
        timings,
      });
      end = importEnd(result);
    } catch (err) {
      if (!isKensaError(err)) this.#log.error({ err, importId: id }, "dataset import failed");
      end = importEnd(null, err);
    } finally {
      await rm(file, { force: true });
    }
    await recordImportEnd(this.#db, id, progress.total, end);
    this.#running.delete(id);
    this.#log.info(
      {
        importId: id,
        projectId,
        status: end.error ? "failed" : "succeeded",
        ok: end.result?.ok,
        ms: Date.now() - started,
        ...timings,
      },
      "dataset import finished",
    );
  }

  /** throws KENSA_ERR_IMPORT_NOT_FOUND */
  async get(id: string): Promise<DatasetImport> {
    const row = await this.#db.selectFrom("dataset_imports").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_IMPORT_NOT_FOUND", `no import with id "${id}"`);
    return this.#toImport(row);
  }

  async list(projectId: string): Promise<DatasetImport[]> {
    await this.#projects.get(projectId);
    const rows = await this.#db
      .selectFrom("dataset_imports")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at", "desc")
      .limit(100)
      .execute();
    return rows.map((r) => this.#toImport(r));
  }

  /** resolves when every running import has finished (for shutdown and tests) */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  #toImport(r: Selectable<DatasetImportsTable>): DatasetImport {
    const live = this.#running.get(r.id) ?? (r.status === "running" ? { progress: this.#remote.get(r.id) } : null);
    const total = Number(r.total);
    return {
      id: r.id,
      projectId: r.project_id,
      format: r.format as DatasetImport["format"],
      options: JSON.parse(r.options) as Record<string, unknown>,
      status: r.status as DatasetImport["status"],
      progress: live?.progress ? { ...live.progress } : { done: r.status === "succeeded" ? total : 0, total },
      result: r.result ? (JSON.parse(r.result) as ImportResult) : null,
      error: r.error ? (JSON.parse(r.error) as { code: string; message: string }) : null,
      archiveBytes: Number(r.archive_bytes),
      createdAt: r.created_at,
      finishedAt: r.finished_at,
      by: r.created_by,
    };
  }
}
