import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, orNull as Nullable, Timestamp as Ts } from "../common.js";
import { Sha256, Task } from "../manifest.js";
import { LabelContent } from "./samples.js";

/* Snapshots: frozen, content-addressed dataset versions with fixed splits, and their diffs. */

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
  /** reference-image inspection: the key of the sample's golden reference; absent = the default */
  referenceKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
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
  /**
   * the project's golden references when the snapshot was taken (docs/datasets.md "Reference
   * images"), sorted by key; absent when it had none
   */
  references: Type.Optional(
    Type.Object({
      defaultKey: Type.String({ minLength: 1, maxLength: 128 }),
      images: Type.Array(Type.Object({ key: Type.String({ minLength: 1, maxLength: 128 }), sha256: Sha256 })),
    }),
  ),
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

export const SnapshotIdParams = Type.Object({ id: Type.String() });
export type SnapshotIdParams = Static<typeof SnapshotIdParams>;

/** Two snapshots to compare: from `id` to `other`. */
export const SnapshotDiffParams = Type.Object({ id: Type.String(), other: Type.String() });
export type SnapshotDiffParams = Static<typeof SnapshotDiffParams>;
