import {
  ImportOptions,
  KensaError,
  type WorkerImportJob,
  type WorkerImportProgress,
  type WorkerImportReply,
  type WorkerImportResult,
} from "@kensa/contracts";
import { Value } from "@sinclair/typebox/value";
import type { JobRow } from "../jobs/remote-claims.js";
import { RemoteJobBase, type RemoteJobDeps, type RemoteJobKind } from "../jobs/remote-job-kind.js";
import { imageLimits } from "../limits/image-gate.js";
import type { ProjectService } from "../projects/project-service.js";
import { anomalyOf, type PreparedImport } from "./import-prepare.js";
import { type ImportEnd, importEnd, recordImportEnd } from "./import-record.js";
import { commitImport } from "./import-runner.js";
import type { ImportService } from "./import-service.js";

export interface RemoteImportsDeps extends RemoteJobDeps {
  imports: ImportService;
  projects: ProjectService;
}

/**
 * Dataset imports on `kensa worker` (training.remote.localImports false): the hub hands out the
 * uploaded archive (a blob, served only to the attempt that holds the job), the worker runs the
 * prepare half of the hub's own import code (listing, planning, decoding, masks) and uploads the
 * image and mask blobs of good items, and the hub commits the posted rows with the hub's own
 * commit code in ONE transaction with the end of the job: the same duplicates, strict abort and
 * per-item failures as a local import, committed exactly once whatever repeats or dies.
 */
export class RemoteImports extends RemoteJobBase implements RemoteJobKind {
  readonly type = "import" as const;
  readonly replyKey = "import" as const;
  readonly #imports: ImportService;
  readonly #projects: ProjectService;

  constructor(d: RemoteImportsDeps) {
    super(d);
    this.#imports = d.imports;
    this.#projects = d.projects;
  }

  /** Imports of one project run one at a time (duplicates are decided against the previous one's samples). */
  async fits(row: JobRow): Promise<boolean> {
    const busy = await this.d.db
      .selectFrom("jobs")
      .select("id")
      .where("type", "=", "import")
      .where("project_id", "=", row.project_id)
      .where("status", "=", "running")
      .executeTakeFirst();
    if (busy) return false;
    // an older import of the project still waits: it goes first
    const older = await this.d.db
      .selectFrom("jobs")
      .select("id")
      .where("type", "=", "import")
      .where("project_id", "=", row.project_id)
      .where("status", "=", "queued")
      .where("created_at", "<", row.created_at)
      .executeTakeFirst();
    return !older;
  }

  async stage(row: JobRow, attempt: number): Promise<WorkerImportJob | null> {
    const imp = await this.d.db
      .selectFrom("dataset_imports")
      .selectAll()
      .where("id", "=", row.ref_id)
      .executeTakeFirst();
    if (imp?.status !== "running") {
      const error = { code: "KENSA_ERR_IMPORT_NOT_FOUND", message: `no running import with id "${row.ref_id}"` };
      await this.d.claims.end(row.id, row.claimed_by!, attempt, { status: "failed", error });
      this.forget(row.id);
      return null;
    }
    if (attempt > this.d.maxAttempts) {
      const error = {
        code: "KENSA_ERR_DATASET_IMPORT_INTERRUPTED",
        message: `the import was claimed ${attempt - 1} times by workers and never finished; nothing was imported`,
      };
      await this.end(row, attempt, { status: "failed", error }, (trx) =>
        recordImportEnd(trx, row.ref_id, 0, { result: null, error }),
      );
      return null;
    }
    // the project as it is now: an earlier import may have added classes
    const project = await this.#projects.get(row.project_id);
    const archive = archiveOf(row);
    this.grants.grant(row.id, attempt, new Set([archive]));
    this.#imports.remoteProgress(row.ref_id, { done: 0, total: 0 });
    const { wait: _w, ...options } = Value.Default(ImportOptions, JSON.parse(imp.options)) as ImportOptions;
    return {
      jobId: row.id,
      attempt,
      leaseMs: this.d.leaseMs,
      importId: imp.id,
      project: {
        id: project.id,
        slug: project.slug,
        task: project.task,
        labels: project.labels,
        okLabels: project.okLabels,
      },
      options,
      // the limits a local import applies, so the worker refuses what the hub would
      limits: { ...this.#imports.archiveLimits, imagePixels: imageLimits().pixels },
      archive: await this.workerBlob(archive),
    };
  }

  /** The archive, to the attempt that holds the job. */
  async blob(row: JobRow, attempt: number, sha256: string) {
    return this.grants.stream(row.id, attempt, sha256, async () => new Set([archiveOf(row)]));
  }

  /** A worker's progress; also renews its lease. */
  async progress(jobId: string, holder: string, body: WorkerImportProgress): Promise<void> {
    await this.d.claims.renew(jobId, holder, body.attempt);
    const row = await this.d.claims.held(jobId, holder, body.attempt);
    this.#imports.remoteProgress(row.ref_id, { done: body.done, total: body.total });
  }

  /**
   * Commits a worker's prepared rows once: the job ends, the samples and labels are inserted and
   * the import's row is written in one transaction. Every blob a row names must have been uploaded.
   */
  async complete(jobId: string, holder: string, body: WorkerImportResult): Promise<WorkerImportReply> {
    if ((body.prepared === undefined) === (body.error === null)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "an import result carries either prepared items or an error");
    }
    return this.once<WorkerImportReply>(
      jobId,
      holder,
      body.attempt,
      body.prepared ? "succeeded" : "failed",
      async (row) => {
        if (row.type !== "import") throw new KensaError("KENSA_ERR_VALIDATION", `job ${jobId} is not an import`);
        const imp = await this.#imports.get(row.ref_id);
        const total = body.prepared?.total ?? 0;
        if (body.error) {
          // the archive could not be read, the worker's own failure: the import fails with its code, as locally
          await this.#fail(row, body.attempt, total, { result: null, error: body.error });
          return { importId: row.ref_id, status: "failed", duplicate: false };
        }
        const posted = body.prepared!;
        const project = await this.#projects.get(row.project_id);
        // whether a label is an anomaly follows from its classes: decided here, as the local import decides it
        const content = (c: NonNullable<(typeof posted.items)[number]["content"]>) => ({
          ...c,
          anomaly: anomalyOf(project, c.classes, c.objects),
        });
        const items = posted.items.map((i) => ({ ...i, content: i.content ? content(i.content) : null }));
        const prepared = { ...posted, items };
        await this.#check(prepared, imp.options, project.labels);
        const options = Value.Default(ImportOptions, { ...imp.options }) as ImportOptions;
        try {
          await this.end(row, body.attempt, { status: "succeeded", error: null }, async (trx) => {
            const result = await commitImport(trx, { project, options, importId: row.ref_id, prepared });
            await recordImportEnd(trx, row.ref_id, total, importEnd(result));
          });
        } catch (err) {
          // a strict import with failures: nothing was committed, the import fails with them (as locally)
          if (!(err instanceof KensaError) || err.code !== "KENSA_ERR_DATASET_IMPORT_ABORTED") throw err;
          await this.#fail(row, body.attempt, total, importEnd(null, err));
          return { importId: row.ref_id, status: "failed", duplicate: false };
        }
        this.#imports.remoteProgress(row.ref_id, null);
        this.d.log.info({ job: jobId, importId: row.ref_id, worker: holder }, "remote dataset import committed");
        return { importId: row.ref_id, status: "succeeded", duplicate: false };
      },
      (job) => ({ importId: job.ref_id, status: job.status as "succeeded" | "failed", duplicate: true }),
    );
  }

  async fail(jobId: string, holder: string, attempt: number, error: { code: string; message: string }) {
    await this.complete(jobId, holder, { workerId: holder, attempt, error });
  }

  async requeued(row: JobRow, why: string): Promise<void> {
    this.forget(row.id);
    this.#imports.remoteProgress(row.ref_id, null);
    this.d.log.warn({ job: row.id, importId: row.ref_id, worker: row.claimed_by }, `remote import re-queued: ${why}`);
  }

  async #fail(row: JobRow, attempt: number, total: number, end: ImportEnd): Promise<void> {
    await this.end(row, attempt, { status: "failed", error: end.error! }, (trx) =>
      recordImportEnd(trx, row.ref_id, total, end),
    );
    this.#imports.remoteProgress(row.ref_id, null);
  }

  /** The rows name only blobs the hub has, and classes the project has or the import may add. */
  async #check(prepared: PreparedImport, options: Record<string, unknown>, labels: string[]): Promise<void> {
    const shas = new Set<string>();
    for (const p of prepared.items) {
      const known = new Set([...labels, ...p.newClasses]);
      const classes = [...(p.content?.classes ?? []), ...(p.content?.objects ?? []).map((o) => o.label)];
      const unknown = classes.find((c) => !known.has(c));
      if (unknown !== undefined) {
        throw new KensaError("KENSA_ERR_VALIDATION", `${p.item}: class "${unknown}" is neither a label nor added`);
      }
      shas.add(p.sha256);
      for (const o of p.content?.objects ?? []) if (o.mask) shas.add(o.mask);
      if (p.newClasses.length > 0 && options.addClasses !== true) {
        throw new KensaError("KENSA_ERR_VALIDATION", `${p.item}: adds classes, but the import does not allow it`);
      }
    }
    for (const sha of shas) {
      if (!(await this.d.blobs.has(sha))) {
        throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `blob ${sha} of the import was never uploaded`);
      }
    }
  }
}

function archiveOf(row: JobRow): string {
  const { archive } = JSON.parse(row.payload) as { archive: string };
  return archive;
}
