import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, orNull as Nullable, Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";

/* Samples, their label revisions, masks, the labeling queue and dataset counts. */

/** Where a sample came from. */
export const SampleSource = Type.Union([
  Type.Literal("upload"),
  Type.Literal("import"),
  Type.Literal("verdict"),
  Type.Literal("capture"),
  Type.Literal("synthetic"),
  /** pushed by a site hub to its central hub (docs/operations.md, "Multi-site") */
  Type.TemplateLiteral([Type.Literal("site:"), Type.String()]),
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
    /** reference-image inspection: the key of the sample's golden reference (registered first); absent = the default */
    referenceKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
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

/** Reply to a mask upload: the stored canonical mask's blob id, for a label object's `mask`. */
export const MaskUploaded = Type.Object({ sha256: Sha256, width: Type.Integer(), height: Type.Integer() });
export type MaskUploaded = Static<typeof MaskUploaded>;

// ---- path parameters --------------------------------------------------------------------

/** The project of `/projects/:id/…` dataset routes (samples, queue, stats, snapshots, imports, export). */
export const DatasetProjectParams = Type.Object({ id: Type.String() });
export type DatasetProjectParams = Static<typeof DatasetProjectParams>;

export const SampleParams = Type.Object({ id: Type.String() });
export type SampleParams = Static<typeof SampleParams>;

/** A device's own id for a capture, so a retried upload finds the sample it already made. */
export const CaptureParams = Type.Object({ captureId: Type.String({ pattern: "^[A-Za-z0-9_.:-]{8,64}$" }) });
export type CaptureParams = Static<typeof CaptureParams>;

/** A mask by its blob id. */
export const MaskParams = Type.Object({ sha: Type.String({ pattern: "^[a-f0-9]{64}$" }) });
export type MaskParams = Static<typeof MaskParams>;
