import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable } from "../common.js";
import { LabelContent } from "../datasets/samples.js";
import { ExportQuery, ImportOptions, ItemFailure } from "../datasets/transfers.js";
import { Sha256 } from "../manifest.js";
import { WorkerBlob } from "./worker-evaluation.js";

/*
 * `kensa worker` importing and exporting datasets. Import: the hub hands out the uploaded
 * archive (a blob) with the project's labels; the worker lists, plans, decodes and checks every
 * item with the hub's own import code, uploads the image and mask blobs of good items, and posts
 * the prepared rows, which the hub commits in one transaction. Export: the hub hands out the
 * named items and their blobs; the worker builds the archive with the hub's own export code and
 * uploads it.
 */

/** The project as an import reads it. */
export const WorkerImportProject = Type.Object({
  id: Id,
  slug: Type.String(),
  task: Type.String(),
  labels: Type.Array(Type.String()),
  okLabels: Type.Array(Type.String()),
});
export type WorkerImportProject = Static<typeof WorkerImportProject>;

/** An import job as a worker receives it. */
export const WorkerImportJob = Type.Object({
  jobId: Id,
  attempt: Type.Integer({ minimum: 1 }),
  leaseMs: Type.Integer(),
  importId: Id,
  project: WorkerImportProject,
  options: Type.Omit(ImportOptions, ["wait"]),
  /**
   * the hub's limits an import applies, so a worker refuses what the hub would: what the archive
   * may hold once opened (limits.archive…) and the pixels of one image (limits.imagePixels;
   * absent from an older hub, when the worker's own default applies)
   */
  limits: Type.Object({
    entryBytes: Type.Integer({ minimum: 1 }),
    entries: Type.Integer({ minimum: 1 }),
    totalBytes: Type.Integer({ minimum: 1 }),
    entryRatio: Type.Number({ minimum: 1 }),
    imagePixels: Type.Optional(Type.Integer({ minimum: 1 })),
  }),
  /** the uploaded archive */
  archive: WorkerBlob,
});
export type WorkerImportJob = Static<typeof WorkerImportJob>;

/** One good item, decoded and checked; its image and mask blobs are uploaded before it is posted. */
export const WorkerImportItem = Type.Object({
  item: Type.String({ maxLength: 4096 }),
  sha256: Sha256,
  format: Type.Union([Type.Literal("jpeg"), Type.Literal("png")]),
  width: Type.Integer({ minimum: 1 }),
  height: Type.Integer({ minimum: 1 }),
  groupKey: Nullable(Type.String({ maxLength: 4096 })),
  /** classes this item adds to the project's labels (addClasses) */
  newClasses: Type.Array(Type.String()),
  /** absent: unlabeled (not null: a union would drop the label schema's defaults) */
  content: Type.Optional(LabelContent),
});
export type WorkerImportItem = Static<typeof WorkerImportItem>;

/** How an import ended on a worker: the prepared items (in archive order) and per-item failures, or why it could not run. */
export const WorkerImportResult = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  /** absent when the import could not run (`error` says why); not nullable, as a union would drop the label schema's defaults */
  prepared: Type.Optional(
    Type.Object({
      items: Type.Array(WorkerImportItem, { maxItems: 1_000_000 }),
      failed: Type.Array(ItemFailure, { maxItems: 1_000_000 }),
      ignored: Type.Integer({ minimum: 0 }),
      /** items the format planned (progress total) */
      total: Type.Integer({ minimum: 0 }),
    }),
  ),
  error: Nullable(ErrorInfo),
});
export type WorkerImportResult = Static<typeof WorkerImportResult>;

export const WorkerImportReply = Type.Object({
  importId: Id,
  status: Type.Union([Type.Literal("succeeded"), Type.Literal("failed")]),
  /** true when this attempt's result had been stored already (a repeated post stores nothing) */
  duplicate: Type.Boolean(),
});
export type WorkerImportReply = Static<typeof WorkerImportReply>;

/** An import's progress (items decoded of items planned); also renews the lease. */
export const WorkerImportProgress = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  done: Type.Integer({ minimum: 0 }),
  total: Type.Integer({ minimum: 0 }),
});
export type WorkerImportProgress = Static<typeof WorkerImportProgress>;

/** One sample of an export, named as the hub names it. */
export const WorkerExportItem = Type.Object({
  sampleId: Type.String(),
  name: Type.String(),
  image: Type.Object({ sha256: Sha256, format: Type.String(), width: Type.Integer(), height: Type.Integer() }),
  label: LabelContent,
});
export type WorkerExportItem = Static<typeof WorkerExportItem>;

/** An export job as a worker receives it. */
export const WorkerExportJob = Type.Object({
  jobId: Id,
  attempt: Type.Integer({ minimum: 1 }),
  leaseMs: Type.Integer(),
  exportId: Id,
  query: ExportQuery,
  labels: Type.Array(Type.String()),
  okLabels: Type.Array(Type.String()),
  /** `kensa-export.json` without its counts */
  meta: Type.Record(Type.String(), Type.Unknown()),
  items: Type.Array(WorkerExportItem),
  /** every image and mask the items name, each once */
  files: Type.Array(WorkerBlob),
});
export type WorkerExportJob = Static<typeof WorkerExportJob>;

/** How an export ended on a worker: the uploaded archive, or why it could not be built. */
export const WorkerExportResult = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 120 }),
  attempt: Type.Integer({ minimum: 1 }),
  archive: Nullable(Type.Object({ sha256: Sha256, size: Type.Integer({ minimum: 0 }) })),
  error: Nullable(ErrorInfo),
});
export type WorkerExportResult = Static<typeof WorkerExportResult>;

export const WorkerExportReply = Type.Object({
  exportId: Id,
  status: Type.Union([Type.Literal("succeeded"), Type.Literal("failed")]),
  duplicate: Type.Boolean(),
});
export type WorkerExportReply = Static<typeof WorkerExportReply>;

export const WorkerUploadParams = Type.Object({ id: Type.String(), sha256: Sha256 });
