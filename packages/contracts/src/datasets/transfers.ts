import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, orNull as Nullable, Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";

/* Dataset imports (archives in the formats of docs/datasets.md) and exports. */

export const DatasetFormat = Type.Union([
  Type.Literal("imagefolder"),
  Type.Literal("coco"),
  Type.Literal("yolo"),
  Type.Literal("voc"),
  Type.Literal("masks"),
]);
export type DatasetFormat = Static<typeof DatasetFormat>;

export const ArchiveType = Type.Union([Type.Literal("zip"), Type.Literal("tar")]);
export type ArchiveType = Static<typeof ArchiveType>;

/**
 * Import options, as the query of `POST /projects/:id/imports` (the body is a .zip, .tar or
 * .tar.gz archive). See docs/datasets.md.
 */
export const ImportOptions = Type.Object(
  {
    format: DatasetFormat,
    /** only entries under this folder of the archive, with paths relative to it */
    root: Type.Optional(Type.String({ maxLength: 500 })),
    /** `none` | `dir` | `regex:<re>` | `cluster:<re>:<gap>`; see docs/datasets.md */
    groupKey: Type.String({ default: "none", maxLength: 500 }),
    /** comma-separated `from=to` renames of source classes to project labels */
    classMap: Type.Optional(Type.String({ maxLength: 5000 })),
    /** add classes the project lacks to its labels instead of failing their items */
    addClasses: Type.Boolean({ default: false }),
    /**
     * imagefolder: where an image's class comes from: `dir` (its top folder) or `regex:<re>`
     * (capture group 1 of `<re>` on its path, e.g. `regex:([^/]+)_\\d+\\.jpg$` for
     * `crazing_12.jpg`)
     */
    classFrom: Type.String({ default: "dir", maxLength: 500 }),
    /** imagefolder: a PNG `<stem><maskSuffix>.png` beside an image is its mask */
    maskSuffix: Type.String({ default: "_mask", maxLength: 50 }),
    /** masks: the class of masks directly under masks/ (the first non-OK label by default) */
    maskClass: Type.Optional(Type.String()),
    /** coco: the annotation file(s) to read (default: every .json in the archive) */
    annotations: Type.Optional(Type.String({ maxLength: 500 })),
    /** any failed item aborts the whole import (nothing is written) */
    strict: Type.Boolean({ default: false }),
    by: Type.String({ default: "import", minLength: 1, maxLength: 200 }),
    /** answer when the import has finished instead of at once */
    wait: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type ImportOptions = Static<typeof ImportOptions>;

export const ItemFailure = Type.Object({
  item: Type.String(),
  code: Type.String(),
  message: Type.String(),
});
export type ItemFailure = Static<typeof ItemFailure>;

export const ImportResult = Type.Object({
  /** samples created */
  ok: Type.Integer(),
  failed: Type.Array(ItemFailure),
  /** images already in the project or earlier in the archive: not imported again, not failures */
  duplicates: Type.Array(Type.Object({ item: Type.String(), sha256: Sha256, of: Type.String() })),
  /** files that are neither images nor annotations of this format (README, .DS_Store, …) */
  ignored: Type.Integer(),
  /** classes added to the project's labels (addClasses) */
  addedClasses: Type.Array(Type.String()),
  /** unlabeled samples among `ok` (images without an annotation) */
  unlabeled: Type.Integer(),
});
export type ImportResult = Static<typeof ImportResult>;

export const ImportStatus = Type.Union([Type.Literal("running"), Type.Literal("succeeded"), Type.Literal("failed")]);

export const DatasetImport = Type.Object({
  id: Id,
  projectId: Id,
  format: DatasetFormat,
  options: Type.Record(Type.String(), Type.Unknown()),
  status: ImportStatus,
  /** items processed / items found; total is 0 while the archive is read */
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
  result: Type.Union([ImportResult, Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  archiveBytes: Type.Integer(),
  createdAt: Ts,
  finishedAt: Nullable(Ts),
  by: Type.String(),
});
export type DatasetImport = Static<typeof DatasetImport>;

export const ExportQuery = Type.Object(
  {
    format: DatasetFormat,
    archive: Type.Optional(ArchiveType),
    /** export this snapshot (default: the project's current labels) */
    snapshot: Type.Optional(Sha256),
    split: Type.Optional(Type.Union([Type.Literal("train"), Type.Literal("val"), Type.Literal("test")])),
  },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

export const ImportIdParams = Type.Object({ id: Type.String() });
export type ImportIdParams = Static<typeof ImportIdParams>;

/**
 * An export run as a job (`POST /projects/:id/exports`): built on the hub, or on a `kensa worker`
 * when `training.remote.localExports` is false; the archive is byte-identical to the streamed
 * export of the same query.
 */
export const DatasetExport = Type.Object({
  id: Id,
  projectId: Id,
  query: ExportQuery,
  status: Type.Union([
    Type.Literal("queued"),
    Type.Literal("running"),
    Type.Literal("succeeded"),
    Type.Literal("failed"),
    Type.Literal("cancelled"),
  ]),
  /** the archive once built: its blob, size and the file name a download gets */
  archive: Type.Union([
    Type.Object({ sha256: Sha256, size: Type.Integer(), filename: Type.String(), contentType: Type.String() }),
    Type.Null(),
  ]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  createdAt: Ts,
  finishedAt: Nullable(Ts),
});
export type DatasetExport = Static<typeof DatasetExport>;

export const ExportIdParams = Type.Object({ id: Type.String() });
