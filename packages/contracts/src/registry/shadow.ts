import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";
import { defineRoutes } from "../route.js";

/*
 * Shadow agreement: how often a challenger run beside the champion on a device (a pipeline's
 * `shadow`) reaches the same decision on the same frames. The agent counts it per pipeline and
 * model pair and reports it in `ReportedPipeline.shadowAgreement`; the hub keeps the latest
 * cumulative figures per device, pair and counting session and aggregates them per pair.
 * docs/agent.md, "Shadow mode", says what is measured.
 */

/** Bounds of a reported agreement: an agent folds labels past `labels` into OTHER_LABEL; the hub clamps to them. */
export const SHADOW_AGREEMENT_LIMITS = {
  /** entries of `byLabel` */
  labels: 64,
  /** characters of a label */
  labelChars: 128,
} as const;

/** `byLabel` key of frames where the champion's result has no headline (nothing detected or segmented) */
export const NO_LABEL = "(none)";
/** `byLabel` key of the frames of labels past SHADOW_AGREEMENT_LIMITS.labels */
export const OTHER_LABEL = "(other)";

const Count = Type.Integer({ minimum: 0 });
const Unit = Type.Number({ minimum: 0, maximum: 1 });
const LabelCounts = Type.Object({ frames: Count, agree: Count });

/** Per label (the champion's headline label), frames and how many of them the shadow agreed on. */
export const AgreementByLabel = Type.Record(
  Type.String({ maxLength: SHADOW_AGREEMENT_LIMITS.labelChars }),
  LabelCounts,
  {
    maxProperties: SHADOW_AGREEMENT_LIMITS.labels,
  },
);
export type AgreementByLabel = Static<typeof AgreementByLabel>;

/**
 * One pipeline's agreement counters since `since`, for one pair: the bundle (champion) and the
 * shadow (challenger). They restart when either model changes and when the agent restarts.
 */
export const ShadowAgreement = Type.Object({
  bundleModelVersionId: Type.String({ minLength: 1, maxLength: 128 }),
  bundleSha256: Sha256,
  shadowModelVersionId: Type.String({ minLength: 1, maxLength: 128 }),
  shadowSha256: Sha256,
  /** when these counters started */
  since: Ts,
  /** frames both models inferred */
  frames: Count,
  /** frames with the same verdict (`finding`) and the same headline label */
  agree: Count,
  byLabel: AgreementByLabel,
  /**
   * |bundle's headline score − the shadow's score for that label| (the shadow's headline score
   * when the bundle has none), mean and p95 over the frames
   */
  scoreDelta: Type.Object({ mean: Unit, p95: Unit }),
  /**
   * detection, segmentation and anomaly: mean IoU of the boxes (of boxes and regions), matched
   * greedily per label, over the `n` frames where either model had one; unmatched ones count 0
   */
  iou: Type.Optional(Type.Object({ mean: Unit, n: Count })),
  /** frames captured for labeling because the two disagreed */
  captures: Count,
});
export type ShadowAgreement = Static<typeof ShadowAgreement>;

const rateFields = {
  frames: Count,
  agree: Count,
  rate: Nullable(Unit),
  /** [low, high] of the Wilson score interval at 95% ([0, 1] without frames) */
  interval: Type.Tuple([Unit, Unit]),
};

/** An agreement rate with its Wilson score 95% interval; null rate when no frame was compared. */
export const AgreementRate = Type.Object(rateFields);
export type AgreementRate = Static<typeof AgreementRate>;

/** A challenger's agreement with one champion, summed over devices and counting sessions. */
export const ShadowPairAgreement = Type.Object({
  championModelVersionId: Id,
  challengerModelVersionId: Id,
  /** devices that reported this pair */
  devices: Count,
  deviceIds: Type.Array(Type.String()),
  overall: AgreementRate,
  /** per champion label, largest first (at most SHADOW_AGREEMENT_LIMITS.labels) */
  byLabel: Type.Array(Type.Object({ label: Type.String(), ...rateFields })),
  /**
   * mean: frame-weighted over the devices; p95Max: the highest p95 a device reported (p95s of
   * different devices do not combine into one)
   */
  scoreDelta: Type.Object({ mean: Nullable(Unit), p95Max: Nullable(Unit) }),
  /** frame-weighted mean IoU over the frames where either model had a box; null for classification */
  iou: Nullable(Type.Object({ mean: Unit, n: Count })),
  captures: Count,
  /** the earliest counting session included */
  since: Ts,
  /** when the hub stored the latest report included */
  lastReportedAt: Ts,
});
export type ShadowPairAgreement = Static<typeof ShadowPairAgreement>;

export const ShadowAgreementReply = Type.Object({
  challengerModelVersionId: Id,
  /** one entry per champion the challenger ran beside, most frames first */
  pairs: Type.Array(ShadowPairAgreement),
});
export type ShadowAgreementReply = Static<typeof ShadowAgreementReply>;

export const ShadowAgreementQuery = Type.Object({
  /** only counting sessions that started at or after this time */
  since: Type.Optional(Ts),
});
export type ShadowAgreementQuery = Static<typeof ShadowAgreementQuery>;

export const shadowRoutes = defineRoutes({
  agreement: {
    method: "GET",
    path: "/api/v1/models/:id/shadow-agreement",
    summary: "A challenger's agreement with each champion it ran beside in shadow mode, over the fleet",
    permission: "models:read",
    params: Type.Object({ id: Type.String() }),
    query: ShadowAgreementQuery,
    reply: ShadowAgreementReply,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND"],
  },
});
