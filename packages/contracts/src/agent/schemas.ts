import { type Static, Type } from "@sinclair/typebox";

const Counts = {
  framesTotal: Type.Integer(),
  framesInferred: Type.Integer(),
  framesDropped: Type.Integer(),
  framesSkipped: Type.Integer(),
  framesFailed: Type.Integer(),
  queueDepth: Type.Integer(),
};

const Problem = Type.Object({ code: Type.String(), message: Type.String() });

/** An incident clip kept on the device. */
export const AgentClip = Type.Object({
  file: Type.String(),
  eventId: Type.String(),
  sourceId: Type.String(),
  bytes: Type.Integer(),
  frames: Type.Integer(),
  durationMs: Type.Integer(),
  createdAt: Type.String(),
  /** whether the hub has it: a refused clip (too large for the hub's limit) stays only on the device */
  upload: Type.Union([Type.Literal("pending"), Type.Literal("uploaded"), Type.Literal("refused")]),
  /** relative URL of the video on the agent's local server */
  url: Type.String(),
});
export type AgentClip = Static<typeof AgentClip>;

/** What the device is doing, for a person at the line or a local script. */
export const AgentStatus = Type.Object({
  deviceId: Type.String(),
  agentVersion: Type.String(),
  ts: Type.String({ format: "date-time" }),
  /** s since start */
  uptimeS: Type.Number(),
  connected: Type.Boolean(),
  pipelines: Type.Array(
    Type.Object({
      id: Type.String(),
      status: Type.String(),
      bundle: Type.Union([Type.Object({ sha256: Type.String(), modelVersionId: Type.String() }), Type.Null()]),
      warmupMs: Type.Optional(Type.Number()),
      error: Type.Optional(Problem),
      /** inferences per second over the last 5 s */
      fps: Type.Number(),
      /** ms, over the last 500 inferences */
      latencyMs: Type.Object({ p50: Type.Number(), p95: Type.Number(), p99: Type.Number() }),
      ...Counts,
    }),
  ),
  sources: Type.Array(
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      pipeline: Type.String(),
      status: Type.String(),
      error: Type.Optional(Problem),
      framesTotal: Type.Integer(),
      framesSampledOut: Type.Integer(),
      fps: Type.Number(),
      lastFrameAt: Type.Union([Type.String(), Type.Null()]),
      restarts: Type.Integer(),
      reconnects: Type.Integer(),
      stalls: Type.Integer(),
      /** relative URL of the latest annotated frame on the agent's local server */
      latest: Type.String(),
    }),
  ),
  queues: Type.Object({ outbox: Type.Integer(), media: Type.Integer(), captures: Type.Integer() }),
  /** the ffmpeg the video sources and clips run (absent when no source needs one; null when none was found) */
  ffmpeg: Type.Optional(
    Type.Union([
      Type.Object({
        path: Type.String(),
        from: Type.Union([Type.Literal("config"), Type.Literal("system"), Type.Literal("package")]),
        version: Type.String(),
      }),
      Type.Null(),
    ]),
  ),
  /** frames kept for learning since start (captured, and kept out as repeats or over budget) */
  capture: Type.Optional(
    Type.Object({
      captured: Type.Integer(),
      duplicates: Type.Integer(),
      overBudget: Type.Integer(),
      byReason: Type.Record(Type.String(), Type.Integer()),
    }),
  ),
  /** the disk quotas' bookkeeping; `eventsDropped` and `mediaEvicted` are persisted, since install */
  storage: Type.Object({
    eventsDropped: Type.Integer(),
    mediaEvicted: Type.Integer(),
    mediaBytes: Type.Number(),
    mediaQuotaBytes: Type.Number(),
    offlineQuotaBytes: Type.Number(),
  }),
  /** incident clips kept on the device, newest first */
  clips: Type.Array(AgentClip),
  disk: Type.Object({
    dataDir: Type.String(),
    dataDirBytes: Type.Number(),
    freeBytes: Type.Number(),
    totalBytes: Type.Number(),
  }),
});
export type AgentStatus = Static<typeof AgentStatus>;

/** The agent answers; nothing more is checked. */
export const AgentHealth = Type.Object({ ok: Type.Literal(true) });
export type AgentHealth = Static<typeof AgentHealth>;

/** A frame a push source accepted and queued for inference; its event carries `frame.meta.frameId`. */
export const PushedFrame = Type.Object({
  frameId: Type.String(),
  sourceId: Type.String(),
  pipeline: Type.String(),
});
export type PushedFrame = Static<typeof PushedFrame>;

/** The name of a pushed frame's meta key, as a query parameter. */
export const PUSH_META_KEY_PATTERN = "^[A-Za-z][A-Za-z0-9_.-]{0,63}$";

/**
 * A pushed frame's query: each parameter becomes frame meta (`?part=SN123&station=4`), at most
 * 16, names like `part_id`, values up to 256 characters.
 */
export const PushFrameQuery = Type.Object(
  {},
  {
    additionalProperties: Type.String({ maxLength: 256 }),
    propertyNames: { pattern: PUSH_META_KEY_PATTERN },
    maxProperties: 16,
  },
);
