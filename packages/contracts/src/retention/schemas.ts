import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, Timestamp as Ts } from "../common.js";

// ---- retention policies, legal holds and retention runs ----------------------------------

/** What retention deletes, each with its own limits. */
export const RETENTION_KINDS = ["events", "frames", "clips", "captures"] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/**
 * One kind's limits as in effect: null is "no limit". Null comes first in each union: the HTTP
 * layer coerces types, and would read a null as 0 (delete everything) against an integer first.
 */
export const RetentionLimit = Type.Object(
  {
    /** days after which an item goes (events by storage time, media by upload time, captures by creation) */
    maxAgeDays: Type.Union([Type.Null(), Type.Integer({ minimum: 1, maximum: 36_500 })]),
    /** bytes the kind may hold in the project; the oldest go first beyond it */
    maxBytes: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
  },
  { additionalProperties: false },
);
export type RetentionLimit = Static<typeof RetentionLimit>;

/** A project's own setting for one kind: a key left out follows the hub's default, null lifts the limit. */
export const RetentionLimitOverride = Type.Partial(RetentionLimit, { additionalProperties: false });
export type RetentionLimitOverride = Static<typeof RetentionLimitOverride>;

/** A project's own retention settings (`PUT` replaces them whole); kinds left out follow the hub. */
export const RetentionOverride = Type.Object(
  {
    events: Type.Optional(RetentionLimitOverride),
    frames: Type.Optional(RetentionLimitOverride),
    clips: Type.Optional(RetentionLimitOverride),
    captures: Type.Optional(RetentionLimitOverride),
  },
  { additionalProperties: false },
);
export type RetentionOverride = Static<typeof RetentionOverride>;

/** Where an effective limit comes from. */
export const LimitSource = Type.Union([Type.Literal("project"), Type.Literal("default")]);

export const EffectiveLimit = Type.Object({
  maxAgeDays: Type.Union([Type.Integer(), Type.Null()]),
  maxBytes: Type.Union([Type.Integer(), Type.Null()]),
  from: Type.Object({ maxAgeDays: LimitSource, maxBytes: LimitSource }),
});
export type EffectiveLimit = Static<typeof EffectiveLimit>;

export const RetentionPolicy = Type.Object({
  projectId: Id,
  /** whether this hub applies retention on its schedule (`retention.enabled` in its config) */
  enabled: Type.Boolean(),
  /** minutes between retention runs */
  everyMinutes: Type.Number(),
  override: RetentionOverride,
  effective: Type.Object({
    events: EffectiveLimit,
    frames: EffectiveLimit,
    clips: EffectiveLimit,
    captures: EffectiveLimit,
  }),
  /** legal holds in force on the project, its devices or its incidents */
  activeHolds: Type.Integer(),
  updatedAt: Type.Union([Ts, Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
});
export type RetentionPolicy = Static<typeof RetentionPolicy>;

export const LegalHoldScope = Type.Union([Type.Literal("project"), Type.Literal("device"), Type.Literal("incident")]);
export type LegalHoldScope = Static<typeof LegalHoldScope>;

export const LegalHold = Type.Object({
  id: Id,
  projectId: Id,
  scope: LegalHoldScope,
  /** the project, device or incident held */
  targetId: Id,
  reason: Type.String(),
  createdBy: Type.String(),
  createdAt: Ts,
  releasedAt: Type.Union([Ts, Type.Null()]),
  releasedBy: Type.Union([Type.String(), Type.Null()]),
});
export type LegalHold = Static<typeof LegalHold>;

export const CreateLegalHold = Type.Object(
  {
    scope: LegalHoldScope,
    /** the device or incident id; the project itself when the scope is `project` */
    targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
  },
  { additionalProperties: false },
);
export type CreateLegalHold = Static<typeof CreateLegalHold>;

const KindCounts = Type.Object({
  events: Type.Integer(),
  frames: Type.Integer(),
  deviceFrames: Type.Integer(),
  clips: Type.Integer(),
  captures: Type.Integer(),
  blobs: Type.Integer(),
});

/** What one retention run deleted, what it kept and why, and what failed. */
export const RetentionRun = Type.Object({
  id: Id,
  /** the hub replica that ran it */
  holder: Type.String(),
  trigger: Type.Union([Type.Literal("schedule"), Type.Literal("request")]),
  startedAt: Ts,
  finishedAt: Ts,
  deleted: KindCounts,
  /** bytes of blobs removed from the blob store */
  bytesFreed: Type.Integer(),
  /** items past a limit that were kept, by reason */
  kept: Type.Object({
    /** events, frames and clips of incidents still open (or acknowledged, without a verdict) */
    openIncident: Type.Integer(),
    /** events that raised an incident (an incident keeps its event while it exists) */
    incidentEvent: Type.Integer(),
    legalHold: Type.Integer(),
    /** captures in a dataset snapshot */
    snapshot: Type.Integer(),
    /** captures a person has labeled (they are dataset samples now) */
    labeled: Type.Integer(),
    /** blobs whose row went but which something else still references */
    sharedBlob: Type.Integer(),
  }),
  failed: Type.Array(
    Type.Object({ projectId: Type.String(), kind: Type.String(), code: Type.String(), message: Type.String() }),
  ),
});
export type RetentionRun = Static<typeof RetentionRun>;
