import { type Static, Type } from "@sinclair/typebox";
import { Sha256 } from "./manifest.js";

const Ts = Type.String({ format: "date-time" });
const ErrorInfo = Type.Object({ code: Type.String(), message: Type.String() });

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
});
export type BundleRef = Static<typeof BundleRef>;

export const DesiredPipeline = Type.Object({
  id: Type.String({ minLength: 1 }),
  bundle: Type.Union([BundleRef, Type.Null()]),
});

export const Desired = Type.Object({
  v: Type.Literal(1),
  rev: Type.Integer({ minimum: 0 }),
  updatedAt: Ts,
  deploymentId: Type.Union([Type.String(), Type.Null()]),
  pipelines: Type.Array(DesiredPipeline),
});
export type Desired = Static<typeof Desired>;

export const ReportedPipeline = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal("idle"), Type.Literal("loading"), Type.Literal("loaded"), Type.Literal("error")]),
  bundle: Type.Union([Type.Object({ sha256: Sha256, modelVersionId: Type.String() }), Type.Null()]),
  /** the last failed attempt, kept while the previous bundle keeps running */
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String(), bundleSha256: Type.String() })),
  warmupMs: Type.Optional(Type.Number()),
});
export type ReportedPipeline = Static<typeof ReportedPipeline>;

export const Reported = Type.Object({
  v: Type.Literal(1),
  ts: Ts,
  agentVersion: Type.String(),
  arch: Type.String(),
  platform: Type.String(),
  desiredRev: Type.Integer({ minimum: -1 }),
  pipelines: Type.Array(ReportedPipeline),
  sources: Type.Array(
    Type.Object({ id: Type.String(), type: Type.String(), status: Type.String(), error: Type.Optional(ErrorInfo) }),
  ),
});
export type Reported = Static<typeof Reported>;

export const FrameMeta = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
);

export const ClassificationResult = Type.Object({
  task: Type.Literal("classification"),
  label: Type.String(),
  score: Type.Number({ minimum: 0, maximum: 1 }),
  scores: Type.Record(Type.String(), Type.Number()),
  /** the agent's own verdict per the bundle thresholds: a non-OK label at or above its threshold */
  finding: Type.Boolean(),
});
export type ClassificationResult = Static<typeof ClassificationResult>;
export const InferenceResult = Type.Union([ClassificationResult]);
export type InferenceResult = Static<typeof InferenceResult>;

export const Event = Type.Object({
  v: Type.Literal(1),
  /** globally unique, stable across replays */
  id: Type.String({ minLength: 8, maxLength: 64 }),
  /** per-device sequence, gap-free from 1 */
  seq: Type.Integer({ minimum: 1 }),
  deviceId: Type.String(),
  pipeline: Type.String(),
  sourceId: Type.String(),
  /** when the frame was captured */
  ts: Ts,
  bundle: Type.Object({ sha256: Sha256, modelVersionId: Type.String() }),
  frame: Type.Object({ width: Type.Integer(), height: Type.Integer(), meta: FrameMeta }),
  result: InferenceResult,
  latencyMs: Type.Object({ preprocess: Type.Number(), inference: Type.Number(), total: Type.Number() }),
  /** the agent will upload this frame over HTTP */
  media: Type.Boolean(),
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
});
export type Telemetry = Static<typeof Telemetry>;
