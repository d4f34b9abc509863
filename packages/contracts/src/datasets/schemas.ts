import { type Static, Type } from "@sinclair/typebox";
import { Sha256, Task } from "../manifest.js";

const Ts = Type.String({ format: "date-time" });
const Id = Type.String({ minLength: 1 });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

// ---- samples and labels -----------------------------------------------------------------

/** Where a sample came from. */
export const SampleSource = Type.Union([
  Type.Literal("upload"),
  Type.Literal("import"),
  Type.Literal("verdict"),
  Type.Literal("capture"),
  Type.Literal("synthetic"),
]);
export type SampleSource = Static<typeof SampleSource>;

export const LabelStatus = Type.Union([Type.Literal("unlabeled"), Type.Literal("labeled"), Type.Literal("reviewed")]);
export type LabelStatus = Static<typeof LabelStatus>;

/** An axis-aligned box in pixels of the sample's image: top-left corner, width, height. */
export const LabelBox = Type.Object(
  {
    x: Type.Number({ minimum: 0 }),
    y: Type.Number({ minimum: 0 }),
    w: Type.Number({ exclusiveMinimum: 0 }),
    h: Type.Number({ exclusiveMinimum: 0 }),
  },
  { additionalProperties: false },
);
export type LabelBox = Static<typeof LabelBox>;

/**
 * One labeled thing on an image: a box, a mask, or both (a COCO instance). A mask is a blob:
 * an 8-bit grey PNG of the image's size, 255 inside and 0 outside.
 */
export const LabelObject = Type.Object(
  {
    label: Type.String({ minLength: 1 }),
    box: Type.Optional(LabelBox),
    mask: Type.Optional(Sha256),
  },
  { additionalProperties: false },
);
export type LabelObject = Static<typeof LabelObject>;

/**
 * What a label says, without who or when. Its content hash is sha256 of its canonical JSON
 * (sorted classes, objects in a canonical order, coordinates rounded to 0.01 px).
 */
export const LabelContent = Type.Object(
  {
    /** image-level classes; for detection and segmentation, the distinct object labels */
    classes: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    objects: Type.Array(LabelObject, { default: [] }),
    /** anomaly projects: whether the image shows an anomaly; null elsewhere */
    anomaly: Type.Union([Type.Boolean(), Type.Null()], { default: null }),
  },
  { additionalProperties: false },
);
export type LabelContent = Static<typeof LabelContent>;

export const LabelRevisionSource = Type.Union([
  Type.Literal("import"),
  Type.Literal("verdict"),
  Type.Literal("labeler"),
  Type.Literal("upload"),
]);

/** An immutable label revision; a sample points at its current one. */
export const LabelRevision = Type.Object({
  id: Id,
  sampleId: Id,
  rev: Type.Integer({ minimum: 1 }),
  sha256: Type.String({ description: "content hash of `content`" }),
  content: LabelContent,
  status: Type.Union([Type.Literal("labeled"), Type.Literal("reviewed")]),
  by: Type.String(),
  source: LabelRevisionSource,
  verdictId: Nullable(Type.String()),
  importId: Nullable(Type.String()),
  createdAt: Ts,
});
export type LabelRevision = Static<typeof LabelRevision>;

export const SampleProvenance = Type.Object({
  source: SampleSource,
  deviceId: Nullable(Type.String()),
  incidentId: Nullable(Type.String()),
  eventId: Nullable(Type.String()),
  /** why a device captured it (`low_confidence`, …), or an upload's note */
  reason: Nullable(Type.String()),
  /** when the frame was captured, when known */
  capturedAt: Nullable(Ts),
  importId: Nullable(Type.String()),
  /** the file's path inside an imported archive */
  item: Nullable(Type.String()),
  /** the model's own output at capture time, when a device sent it */
  prediction: Type.Union([
    Type.Object({ label: Type.String(), score: Type.Number({ minimum: 0, maximum: 1 }) }),
    Type.Null(),
  ]),
});

export const Sample = Type.Object({
  id: Id,
  projectId: Id,
  /** null until the media of a verdict's incident arrives */
  image: Type.Union([
    Type.Object({
      sha256: Sha256,
      format: Type.Union([Type.Literal("jpeg"), Type.Literal("png")]),
      width: Type.Integer(),
      height: Type.Integer(),
    }),
    Type.Null(),
  ]),
  provenance: SampleProvenance,
  /** the key splits group by; null means the default (device + time bucket, else the image) */
  groupKey: Nullable(Type.String()),
  status: LabelStatus,
  label: Type.Union([LabelRevision, Type.Null()]),
  createdAt: Ts,
});
export type Sample = Static<typeof Sample>;

export const SampleWithHistory = Type.Composite([Sample, Type.Object({ revisions: Type.Array(LabelRevision) })]);
export type SampleWithHistory = Static<typeof SampleWithHistory>;

export const SampleQuery = Type.Object(
  {
    status: Type.Optional(LabelStatus),
    source: Type.Optional(SampleSource),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    /** the last sample id of the previous page */
    after: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type SampleQuery = Static<typeof SampleQuery>;

/** Query of `POST /projects/:id/samples` (the body is the image). */
export const UploadSampleQuery = Type.Object(
  {
    source: Type.Union([Type.Literal("upload"), Type.Literal("synthetic")], { default: "upload" }),
    /** comma-separated classes; the sample is unlabeled without them */
    classes: Type.Optional(Type.String()),
    by: Type.String({ default: "admin", minLength: 1, maxLength: 200 }),
    groupKey: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type UploadSampleQuery = Static<typeof UploadSampleQuery>;

export const CreateLabelRevision = Type.Object(
  {
    /** who labeled: ignored for signed-in users (their username is recorded); "admin-token" when omitted */
    by: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    status: Type.Union([Type.Literal("labeled"), Type.Literal("reviewed")], { default: "labeled" }),
    /** omitted: the current content again, e.g. to mark it reviewed */
    content: Type.Optional(LabelContent),
  },
  { additionalProperties: false },
);
export type CreateLabelRevision = Static<typeof CreateLabelRevision>;

/** Query of `PUT /captures/:captureId`, which a device calls with a frame as the body. */
export const CaptureQuery = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 100, description: "low_confidence, disagreement, periodic, …" }),
    ts: Type.Optional(Ts),
    label: Type.Optional(Type.String({ description: "the model's label for this frame" })),
    score: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** the admin may capture for a device; a device captures for itself */
    deviceId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type CaptureQuery = Static<typeof CaptureQuery>;

export const CaptureReply = Type.Object({ sample: Sample, created: Type.Boolean() });
export type CaptureReply = Static<typeof CaptureReply>;

export const QueueGroupKey = Type.Union([
  Type.Literal("positives"),
  Type.Literal("false_positives"),
  Type.Literal("uncertain"),
  Type.Literal("unlabeled"),
]);

export const LabelingQueue = Type.Object({
  projectId: Id,
  total: Type.Integer(),
  /** in the order people should work through them */
  groups: Type.Array(
    Type.Object({
      key: QueueGroupKey,
      description: Type.String(),
      count: Type.Integer(),
      items: Type.Array(Sample),
    }),
  ),
});
export type LabelingQueue = Static<typeof LabelingQueue>;

export const LabelingQueueQuery = Type.Object(
  { limit: Type.Integer({ minimum: 0, maximum: 500, default: 50, description: "items per group" }) },
  { additionalProperties: false },
);

export const DatasetStats = Type.Object({
  projectId: Id,
  samples: Type.Integer(),
  withoutImage: Type.Integer(),
  byStatus: Type.Record(Type.String(), Type.Integer()),
  bySource: Type.Record(Type.String(), Type.Integer()),
  /** images whose current label has the class */
  byClass: Type.Record(Type.String(), Type.Integer()),
});
export type DatasetStats = Static<typeof DatasetStats>;

// ---- import and export ------------------------------------------------------------------

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

// ---- snapshots --------------------------------------------------------------------------

export const SplitName = Type.Union([Type.Literal("train"), Type.Literal("val"), Type.Literal("test")]);
export type SplitName = Static<typeof SplitName>;

export const SplitRatios = Type.Object(
  {
    train: Type.Number({ minimum: 0, maximum: 1 }),
    val: Type.Number({ minimum: 0, maximum: 1 }),
    test: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);
export type SplitRatios = Static<typeof SplitRatios>;

/** Everything besides the samples that decides a snapshot; part of its manifest. */
export const SnapshotParams = Type.Object(
  {
    seed: Type.String({ default: "kensa", maxLength: 200 }),
    ratios: Type.Object(SplitRatios.properties, {
      additionalProperties: false,
      default: { train: 0.7, val: 0.15, test: 0.15 },
    }),
    /** seconds; samples of one device within one bucket share a group (near-duplicates) */
    groupBucketSec: Type.Integer({ minimum: 1, default: 3600 }),
    /** `labeled` takes labeled and reviewed samples; `reviewed` only reviewed ones */
    include: Type.Union([Type.Literal("labeled"), Type.Literal("reviewed")], { default: "labeled" }),
  },
  { additionalProperties: false },
);
export type SnapshotParams = Static<typeof SnapshotParams>;

export const CreateSnapshot = Type.Composite(
  [
    SnapshotParams,
    Type.Object({
      name: Type.Optional(Type.String({ maxLength: 200 })),
      by: Type.String({ default: "admin", minLength: 1, maxLength: 200 }),
    }),
  ],
  { additionalProperties: false },
);
export type CreateSnapshot = Static<typeof CreateSnapshot>;

export const SnapshotItem = Type.Object({
  sampleId: Id,
  image: Type.Object({
    sha256: Sha256,
    format: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
  }),
  /** the label revision's content hash and content (who labeled it is in the hub) */
  label: Type.Object({ sha256: Sha256, content: LabelContent }),
  groupKey: Type.String(),
  split: SplitName,
});
export type SnapshotItem = Static<typeof SnapshotItem>;

/**
 * The immutable content of a snapshot, stored as a blob of canonical JSON; its sha256 is the
 * snapshot id. What a trainer reads: images and mask PNGs are blobs named by their sha256.
 */
export const SnapshotManifest = Type.Object({
  schema: Type.Literal("kensa.snapshot/v1"),
  projectId: Id,
  task: Task,
  labels: Type.Array(Type.String()),
  okLabels: Type.Array(Type.String()),
  params: SnapshotParams,
  /** sorted by sample id */
  items: Type.Array(SnapshotItem),
});
export type SnapshotManifest = Static<typeof SnapshotManifest>;

const Counts = Type.Object({
  samples: Type.Integer(),
  groups: Type.Integer(),
  /** images whose label has the class */
  images: Type.Record(Type.String(), Type.Integer()),
  /** boxes or masks per class */
  objects: Type.Record(Type.String(), Type.Integer()),
});

export const SnapshotStats = Type.Object({
  total: Counts,
  splits: Type.Object({ train: Counts, val: Counts, test: Counts }),
});
export type SnapshotStats = Static<typeof SnapshotStats>;

export const Snapshot = Type.Object({
  /** sha256 of the manifest blob */
  id: Sha256,
  projectId: Id,
  name: Nullable(Type.String()),
  params: SnapshotParams,
  sampleCount: Type.Integer(),
  stats: SnapshotStats,
  /** samples left out (no image yet, or not labeled per `include`) */
  excluded: Type.Object({ noImage: Type.Integer(), notLabeled: Type.Integer() }),
  createdAt: Ts,
  by: Type.String(),
});
export type Snapshot = Static<typeof Snapshot>;

export const CreatedSnapshot = Type.Composite([Snapshot, Type.Object({ created: Type.Boolean() })]);
export type CreatedSnapshot = Static<typeof CreatedSnapshot>;

export const SnapshotDiff = Type.Object({
  from: Sha256,
  to: Sha256,
  added: Type.Array(Type.String()),
  removed: Type.Array(Type.String()),
  relabeled: Type.Array(Type.Object({ sampleId: Type.String(), from: Sha256, to: Sha256 })),
  /** same sample, same label, other split (different split parameters) */
  moved: Type.Array(Type.Object({ sampleId: Type.String(), from: SplitName, to: SplitName })),
  unchanged: Type.Integer(),
});
export type SnapshotDiff = Static<typeof SnapshotDiff>;

/** Reply to a mask upload: the stored canonical mask's blob id, for a label object's `mask`. */
export const MaskUploaded = Type.Object({ sha256: Sha256, width: Type.Integer(), height: Type.Integer() });
export type MaskUploaded = Static<typeof MaskUploaded>;
