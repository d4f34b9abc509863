import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, Timestamp as Ts } from "../common.js";
import { DesiredAgent, ReportedAgentUpdate } from "../fleet/agent-releases.js";
import { ReportedConfig } from "../fleet/device-config.js";
import { SelfTestReport } from "../golden.js";
import { Sha256 } from "../manifest.js";
import { InputStats } from "../registry/drift.js";
import { ShadowAgreement } from "../registry/shadow.js";
import { RuleHit } from "../rules.js";

export const Presence = Type.Object({
  v: Type.Literal(1),
  status: Type.Union([Type.Literal("online"), Type.Literal("offline")]),
  ts: Type.Optional(Ts),
  agentVersion: Type.Optional(Type.String()),
});
export type Presence = Static<typeof Presence>;

export const BundleRef = Type.Object({
  sha256: Sha256,
  modelVersionId: Type.String(),
  /** absolute URL of the bundle manifest; the model is fetched from `modelUrl` */
  url: Type.String(),
  modelUrl: Type.String(),
  modelSha256: Sha256,
  size: Type.Integer({ minimum: 1 }),
  /**
   * ms over which the hub spreads the start of the downloads of a rollout: a device that has
   * to download this bundle waits a random time below it first (absent or 0: at once)
   */
  spreadMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
});
export type BundleRef = Static<typeof BundleRef>;

export const DesiredPipeline = Type.Object({
  id: Type.String({ minLength: 1 }),
  bundle: Type.Union([BundleRef, Type.Null()]),
  /**
   * a second model run beside `bundle` on the same frames, never raising incidents: frames
   * where the two disagree are captured for labeling
   */
  shadow: Type.Optional(Type.Union([BundleRef, Type.Null()])),
});

export const Desired = Type.Object({
  v: Type.Literal(1),
  rev: Type.Integer({ minimum: 0 }),
  updatedAt: Ts,
  deploymentId: Type.Union([Type.String(), Type.Null()]),
  pipelines: Type.Array(DesiredPipeline),
  /**
   * "hub": this hub confirms every event on the device's `acks` topic once it is committed,
   * and the device keeps an event until then. Absent (hubs before the confirmation): the
   * device deletes an event on the broker's PUBACK.
   */
  eventAcks: Type.Optional(Type.Literal("hub")),
  /**
   * the device's remote config (docs/agent.md, "Remote configuration"): its revision and the
   * sha256 of its canonical JSON, fetched from `GET /api/v1/devices/:id/config/delivered`.
   * Absent while the hub sets none; the device then runs its local agent.json.
   */
  config: Type.Optional(Type.Object({ rev: Type.Integer({ minimum: 1 }), sha256: Sha256 })),
  /** the agent release the device should run (docs/bundles.md, "Agent updates"); absent: keep its own */
  agent: Type.Optional(DesiredAgent),
});
export type Desired = Static<typeof Desired>;

/**
 * The hub's word on events it has taken: `stored` seqs are committed (or were already, a
 * replay); `rejected` seqs can never be stored (invalid, unknown project, wrong device) and
 * are counted by both sides. A device deletes both from its outbox; anything unconfirmed is
 * published again.
 */
export const EventAcks = Type.Object({
  v: Type.Literal(1),
  stored: Type.Array(Type.Integer({ minimum: 0 })),
  rejected: Type.Array(
    Type.Object({
      seq: Type.Integer({ minimum: 0 }),
      /** stable error code (KENSA_ERR_…) */
      code: Type.String(),
      reason: Type.String(),
    }),
  ),
});
export type EventAcks = Static<typeof EventAcks>;

export const ReportedPipeline = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal("idle"), Type.Literal("loading"), Type.Literal("loaded"), Type.Literal("error")]),
  bundle: Type.Union([Type.Object({ sha256: Sha256, modelVersionId: Type.String() }), Type.Null()]),
  /** the last failed attempt, kept while the previous bundle keeps running */
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String(), bundleSha256: Type.String() })),
  warmupMs: Type.Optional(Type.Number()),
  /** the shadow model loaded beside the bundle, if any */
  shadow: Type.Optional(Type.Object({ sha256: Sha256, modelVersionId: Type.String() })),
  /** the inference session: restarted after a runtime failure, `failed` while over its restart budget */
  session: Type.Optional(
    Type.Object({
      state: Type.String(),
      restarts: Type.Integer({ minimum: 0 }),
      error: Type.Optional(ErrorInfo),
    }),
  ),
  /** the last golden-frame self-test of a bundle this pipeline installed (passed, failed or skipped) */
  selfTest: Type.Optional(SelfTestReport),
  /**
   * the shadow's agreement with the bundle since the pair last changed (docs/agent.md, "Shadow
   * mode"); agents before it omit it
   */
  shadowAgreement: Type.Optional(ShadowAgreement),
});
export type ReportedPipeline = Static<typeof ReportedPipeline>;

export const Reported = Type.Object({
  v: Type.Literal(1),
  ts: Ts,
  agentVersion: Type.String(),
  /** when the agent process started (agents before staged rollouts omit it): a rollout counts a later one as a restart */
  startedAt: Type.Optional(Ts),
  arch: Type.String(),
  platform: Type.String(),
  desiredRev: Type.Integer({ minimum: -1 }),
  pipelines: Type.Array(ReportedPipeline),
  sources: Type.Array(
    Type.Object({ id: Type.String(), type: Type.String(), status: Type.String(), error: Type.Optional(ErrorInfo) }),
  ),
  /** events the agent deleted unsent to survive a full disk, since it was installed (never silently) */
  eventsDropped: Type.Optional(Type.Integer({ minimum: 0 })),
  /** events the hub refused for good (kept there as rejected), since the agent was installed */
  eventsRejected: Type.Optional(Type.Integer({ minimum: 0 })),
  /** the remote config running and the last one received (agents before remote configuration omit it) */
  config: Type.Optional(ReportedConfig),
  /** the agent's self-update (docs/bundles.md, "Agent updates"); agents before it omit it */
  agentUpdate: Type.Optional(ReportedAgentUpdate),
});
export type Reported = Static<typeof Reported>;

/**
 * Structural bounds of an event, checked by its schema: each matches or exceeds what an agent
 * can produce (manifest maxima: 1000 detections, 1000 regions). The hub adds byte budgets on
 * top (`limits.eventBytes`, `limits.metaBytes`); an event over either is refused with
 * KENSA_ERR_EVENT_TOO_LARGE and kept as rejected.
 */
export const EVENT_FIELD_LIMITS = {
  /** characters of a label, an id (device, pipeline, source, model version, capture) */
  nameChars: 128,
  /** keys of `frame.meta` */
  metaKeys: 64,
  /** characters of one string value of `frame.meta` */
  metaStringChars: 1024,
  /** classes in a classification's `scores` */
  scores: 1000,
  detections: 1000,
  regions: 1000,
  /** rule hits of one event */
  rules: 64,
} as const;
const Name = Type.String({ maxLength: EVENT_FIELD_LIMITS.nameChars });

export const FrameMeta = Type.Record(
  Type.String(),
  Type.Union([
    Type.String({ maxLength: EVENT_FIELD_LIMITS.metaStringChars }),
    Type.Number(),
    Type.Boolean(),
    Type.Null(),
  ]),
  { maxProperties: EVENT_FIELD_LIMITS.metaKeys },
);

export const ClassificationResult = Type.Object({
  task: Type.Literal("classification"),
  label: Name,
  score: Type.Number({ minimum: 0, maximum: 1 }),
  scores: Type.Record(Type.String(), Type.Number(), { maxProperties: EVENT_FIELD_LIMITS.scores }),
  /** the agent's own verdict per the bundle thresholds: a non-OK label at or above its threshold */
  finding: Type.Boolean(),
});
export type ClassificationResult = Static<typeof ClassificationResult>;

/** [x, y, width, height] in px of the ORIGINAL frame, origin top left */
export const Box = Type.Tuple([Type.Number(), Type.Number(), Type.Number({ minimum: 0 }), Type.Number({ minimum: 0 })]);
export type Box = Static<typeof Box>;

export const Detection = Type.Object({
  label: Name,
  score: Type.Number({ minimum: 0, maximum: 1 }),
  box: Box,
});
export type Detection = Static<typeof Detection>;

export const DetectionResult = Type.Object({
  task: Type.Literal("detection"),
  /** after NMS, best first */
  detections: Type.Array(Detection, { maxItems: EVENT_FIELD_LIMITS.detections }),
  /** a detection of a non-OK label at or above its threshold */
  finding: Type.Boolean(),
});
export type DetectionResult = Static<typeof DetectionResult>;

/** One connected (8-neighbour) area of one class in a mask. */
export const Region = Type.Object({
  label: Name,
  /** px² of the ORIGINAL frame */
  area: Type.Number({ minimum: 0 }),
  /** pixels of the model's output mask */
  maskArea: Type.Integer({ minimum: 1 }),
  box: Box,
  /** mean pixel score over the region */
  score: Type.Number({ minimum: 0, maximum: 1 }),
  /**
   * the region's outer boundary in px of the ORIGINAL frame: [x, y] vertices, clockwise, at
   * most 64, simplified to about one mask pixel; holes are not drawn (agents before it omit it)
   */
  outline: Type.Optional(Type.Array(Type.Tuple([Type.Number(), Type.Number()]), { maxItems: 64 })),
});
export type Region = Static<typeof Region>;

export const SegmentationResult = Type.Object({
  task: Type.Literal("segmentation"),
  /** largest first; OK labels (the background) have none */
  regions: Type.Array(Region, { maxItems: EVENT_FIELD_LIMITS.regions }),
  /** a region of a non-OK label whose mean score reaches its threshold */
  finding: Type.Boolean(),
});
export type SegmentationResult = Static<typeof SegmentationResult>;

export const AnomalyResult = Type.Object({
  task: Type.Literal("anomaly"),
  /** the manifest's anomaly label (its first non-OK label), which regions carry too */
  label: Name,
  /** the image's anomaly score (max or top-k mean of the map), 0..1 */
  score: Type.Number({ minimum: 0, maximum: 1 }),
  /** where the map reaches the map threshold, largest first */
  regions: Type.Array(Region, { maxItems: EVENT_FIELD_LIMITS.regions }),
  /** score at or above the threshold of the anomaly label */
  finding: Type.Boolean(),
});
export type AnomalyResult = Static<typeof AnomalyResult>;

/** What one frame gave, by task; `finding` is the agent's verdict per the bundle thresholds. */
export const InferenceResult = Type.Union([ClassificationResult, DetectionResult, SegmentationResult, AnomalyResult]);
export type InferenceResult = Static<typeof InferenceResult>;

/**
 * The one label and score that stand for a result, for rules that think per frame (incidents):
 * classification's top label; else the best-scoring detection or region (the image score for
 * anomaly). Null when the frame shows nothing.
 */
export function headlineOf(result: InferenceResult): { label: string; score: number } | null {
  switch (result.task) {
    case "classification":
      return { label: result.label, score: result.score };
    case "detection":
    case "segmentation": {
      const items = result.task === "detection" ? result.detections : result.regions;
      let best: { label: string; score: number } | null = null;
      for (const it of items) if (!best || it.score > best.score) best = { label: it.label, score: it.score };
      return best;
    }
    case "anomaly":
      return { label: result.label, score: result.score };
  }
}

export const Event = Type.Object({
  v: Type.Literal(1),
  /** globally unique, stable across replays */
  id: Type.String({ minLength: 8, maxLength: 64 }),
  /** per-device sequence, gap-free from 1 */
  seq: Type.Integer({ minimum: 1 }),
  deviceId: Name,
  pipeline: Name,
  sourceId: Name,
  /** when the frame was captured */
  ts: Ts,
  bundle: Type.Object({ sha256: Sha256, modelVersionId: Name }),
  frame: Type.Object({ width: Type.Integer(), height: Type.Integer(), meta: FrameMeta }),
  result: InferenceResult,
  latencyMs: Type.Object({ preprocess: Type.Number(), inference: Type.Number(), total: Type.Number() }),
  /** the agent will upload this frame over HTTP */
  media: Type.Boolean(),
  /**
   * present when the bundle has rules: the rules that hit on this frame ([] when none did).
   * A hit makes the event an incident naming the rule; `result.finding` is then true.
   */
  rules: Type.Optional(Type.Array(RuleHit, { maxItems: EVENT_FIELD_LIMITS.rules })),
  /** the frame was kept for learning: uploaded to `PUT /api/v1/captures/:id` with this reason */
  capture: Type.Optional(Type.Object({ id: Name, reason: Name })),
  /**
   * statistics of the model's input image (mean luma and contrast, 0…1), for drift against the
   * evaluation snapshot (docs/monitoring.md, "Drift"); agents before them omit it
   */
  input: Type.Optional(InputStats),
});
export type Event = Static<typeof Event>;

export const Telemetry = Type.Object({
  v: Type.Literal(1),
  ts: Ts,
  fps: Type.Number({ minimum: 0 }),
  latencyMs: Type.Object({ p50: Type.Number(), p95: Type.Number() }),
  framesTotal: Type.Integer({ minimum: 0 }),
  framesDropped: Type.Integer({ minimum: 0 }),
  outboxDepth: Type.Integer({ minimum: 0 }),
  mediaQueueDepth: Type.Integer({ minimum: 0 }),
  /** captures waiting for upload */
  captureQueueDepth: Type.Optional(Type.Integer({ minimum: 0 })),
  /** events deleted unsent to survive a full disk, since the agent was installed */
  eventsDropped: Type.Optional(Type.Integer({ minimum: 0 })),
  /** media files (captures, clips, frames) evicted by the disk quotas, since installed */
  mediaEvicted: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Telemetry = Static<typeof Telemetry>;

/** bytes of `frame.meta` as JSON that a hub accepts with its default `limits.metaBytes` */
export const DEFAULT_META_BYTES = 16 * 1024;

type MetaValue = string | number | boolean | null;

/**
 * `frame.meta` cut to what a hub accepts by default, so an agent does not publish an event the
 * hub would refuse: at most `EVENT_FIELD_LIMITS.metaKeys` keys, strings of at most
 * `metaStringChars`, and at most `maxBytes` of JSON (the largest entries dropped first).
 * `trimmed` names the keys cut or dropped; empty when the meta fits as it is.
 */
export function fitFrameMeta(
  meta: Readonly<Record<string, MetaValue>>,
  maxBytes = DEFAULT_META_BYTES,
): { meta: Record<string, MetaValue>; trimmed: string[] } {
  const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).length;
  const entries = Object.entries(meta);
  if (entries.length <= EVENT_FIELD_LIMITS.metaKeys && bytes(meta) <= maxBytes) {
    const long = entries.some(([, v]) => typeof v === "string" && v.length > EVENT_FIELD_LIMITS.metaStringChars);
    if (!long) return { meta: { ...meta }, trimmed: [] };
  }
  const trimmed: string[] = [];
  const out: Record<string, MetaValue> = {};
  for (const [k, v] of entries) {
    if (Object.keys(out).length >= EVENT_FIELD_LIMITS.metaKeys) trimmed.push(k);
    else if (typeof v === "string" && v.length > EVENT_FIELD_LIMITS.metaStringChars) {
      out[k] = v.slice(0, EVENT_FIELD_LIMITS.metaStringChars);
      trimmed.push(k);
    } else out[k] = v;
  }
  const bySize = Object.keys(out).sort((a, b) => bytes({ [b]: out[b] }) - bytes({ [a]: out[a] }));
  for (const k of bySize) {
    if (bytes(out) <= maxBytes) break;
    delete out[k];
    if (!trimmed.includes(k)) trimmed.push(k);
  }
  return { meta: out, trimmed };
}
