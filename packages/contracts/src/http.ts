import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { ModelManifest, Sha256, Task } from "./manifest.js";
import { FrameMeta, InferenceResult, Reported, Telemetry } from "./mqtt.js";
import { DEVICE_ID_PATTERN } from "./topics.js";

const Ts = Type.String({ format: "date-time" });
const Id = Type.String({ minLength: 1 });

export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }),
});
export type ErrorReply = Static<typeof ErrorReply>;

export const List = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });

// ---- projects ---------------------------------------------------------------------------

export const IncidentRule = Type.Object(
  {
    type: Type.Literal("threshold"),
    /** finding labels that raise incidents; every non-OK label when empty */
    labels: Type.Array(Type.String(), { default: [] }),
    minScore: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
  },
  { additionalProperties: false },
);
export type IncidentRule = Static<typeof IncidentRule>;

export const WebhookTarget = Type.Object(
  {
    url: Type.String({ pattern: "^https?://" }),
    /** HMAC-SHA256 key for the `x-kensa-signature` header */
    secret: Type.String({ minLength: 16 }),
  },
  { additionalProperties: false },
);

export const NotificationRouting = Type.Object(
  {
    email: Type.Array(Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$" }), { default: [] }),
    webhooks: Type.Array(WebhookTarget, { default: [] }),
    /** seconds during which further incidents of the project notify no one again */
    cooldownSec: Type.Integer({ minimum: 0, default: 300 }),
  },
  { additionalProperties: false },
);
export type NotificationRouting = Static<typeof NotificationRouting>;

export const CreateProject = Type.Object(
  {
    slug: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    task: Task,
    labels: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true }),
    okLabels: Type.Array(Type.String(), { default: [] }),
    rule: Type.Optional(IncidentRule),
    notifications: Type.Optional(NotificationRouting),
  },
  { additionalProperties: false },
);
export type CreateProject = Static<typeof CreateProject>;

export const UpdateProject = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    rule: Type.Optional(IncidentRule),
    notifications: Type.Optional(NotificationRouting),
  },
  { additionalProperties: false },
);
export type UpdateProject = Static<typeof UpdateProject>;

/** Webhook secrets never leave the hub; replies show only the target URL. */
export const Project = Type.Object({
  id: Id,
  slug: Type.String(),
  name: Type.String(),
  task: Task,
  labels: Type.Array(Type.String()),
  okLabels: Type.Array(Type.String()),
  rule: IncidentRule,
  notifications: Type.Object({
    email: Type.Array(Type.String()),
    webhooks: Type.Array(Type.Object({ url: Type.String() })),
    cooldownSec: Type.Integer(),
  }),
  createdAt: Ts,
});
export type Project = Static<typeof Project>;

// ---- devices ----------------------------------------------------------------------------

export const EnrollDevice = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    projectId: Id,
    arch: Type.Optional(Type.Union([Type.Literal("x64"), Type.Literal("arm64"), Type.Literal("armv7")])),
    tags: Type.Array(Type.String({ pattern: "^[a-z0-9][a-z0-9:_-]{0,62}$" }), { default: [] }),
  },
  { additionalProperties: false },
);
export type EnrollDevice = Static<typeof EnrollDevice>;

export const Device = Type.Object({
  id: Id,
  name: Type.String(),
  projectId: Id,
  arch: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  presence: Type.Union([Type.Literal("online"), Type.Literal("offline"), Type.Literal("never")]),
  lastSeenAt: Type.Union([Ts, Type.Null()]),
  reported: Type.Union([Reported, Type.Null()]),
  telemetry: Type.Union([Telemetry, Type.Null()]),
  desiredRev: Type.Integer(),
  createdAt: Ts,
});
export type Device = Static<typeof Device>;

/** The only reply that ever shows a device secret. */
export const EnrolledDevice = Type.Object({
  device: Device,
  secret: Type.String(),
  mqttUrl: Type.String(),
  hubUrl: Type.String(),
  command: Type.String({ description: "how to start this device's agent" }),
});
export type EnrolledDevice = Static<typeof EnrolledDevice>;

// ---- model versions ---------------------------------------------------------------------

export const ModelStage = Type.Union([
  Type.Literal("candidate"),
  Type.Literal("approved"),
  Type.Literal("rejected"),
  Type.Literal("archived"),
]);

/** Where a model version came from: recorded when a run registers it (uploads have none). */
export const ModelLineage = Type.Object({
  /** the snapshot it was trained on */
  snapshotId: Type.Union([Type.String(), Type.Null()]),
  runId: Type.Union([Type.String(), Type.Null()]),
  /** the trainer's configured name and what it reported itself to be */
  trainer: Type.Union([Type.String(), Type.Null()]),
  trainerVersion: Type.Union([Type.String(), Type.Null()]),
  params: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  /** git commit of the hub's code at training time, or "unknown" */
  codeRevision: Type.String(),
});
export type ModelLineage = Static<typeof ModelLineage>;

export const ModelVersion = Type.Object({
  id: Id,
  projectId: Id,
  version: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  sha256: Sha256,
  size: Type.Integer(),
  stage: ModelStage,
  manifest: ModelManifest,
  source: Type.String({ description: "upload | run:<id>" }),
  createdAt: Ts,
  /** training lineage; null for uploaded models */
  lineage: Type.Optional(Type.Union([ModelLineage, Type.Null()])),
  /** the sha256 of the int8 variant the trainer also wrote, when it did */
  int8Sha256: Type.Optional(Type.Union([Sha256, Type.Null()])),
  /** the project's approved model in service now */
  champion: Type.Optional(Type.Boolean()),
});
export type ModelVersion = Static<typeof ModelVersion>;

// ---- deployments ------------------------------------------------------------------------

export const CreateDeployment = Type.Object(
  {
    modelVersionId: Id,
    pipeline: Type.String({ default: "default", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    target: Type.Object(
      {
        deviceIds: Type.Array(Type.String(), { default: [] }),
        tags: Type.Array(Type.String(), { default: [] }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type CreateDeployment = Static<typeof CreateDeployment>;

export const Deployment = Type.Object({
  id: Id,
  projectId: Id,
  modelVersionId: Id,
  bundleSha256: Sha256,
  pipeline: Type.String(),
  target: Type.Object({ deviceIds: Type.Array(Type.String()), tags: Type.Array(Type.String()) }),
  deviceIds: Type.Array(Type.String()),
  createdAt: Ts,
});
export type Deployment = Static<typeof Deployment>;

// ---- events, incidents, verdicts --------------------------------------------------------

export const StoredEvent = Type.Object({
  id: Id,
  seq: Type.Integer(),
  deviceId: Type.String(),
  projectId: Type.String(),
  pipeline: Type.String(),
  sourceId: Type.String(),
  ts: Ts,
  receivedAt: Ts,
  modelVersionId: Type.String(),
  bundleSha256: Type.String(),
  result: InferenceResult,
  frameMeta: FrameMeta,
  mediaSha256: Type.Union([Type.String(), Type.Null()]),
});
export type StoredEvent = Static<typeof StoredEvent>;

export const EventQuery = Type.Object(
  {
    deviceId: Type.Optional(Type.String()),
    projectId: Type.Optional(Type.String()),
    afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Integer({ minimum: 1, maximum: 10000, default: 100 }),
  },
  { additionalProperties: false },
);

export const IncidentStatus = Type.Union([
  Type.Literal("open"),
  Type.Literal("acknowledged"),
  Type.Literal("confirmed"),
  Type.Literal("false_alarm"),
  Type.Literal("relabeled"),
]);
export type IncidentStatus = Static<typeof IncidentStatus>;

export const VerdictKind = Type.Union([
  Type.Literal("confirmed"),
  Type.Literal("false_alarm"),
  Type.Literal("relabel"),
]);
export type VerdictKind = Static<typeof VerdictKind>;

export const CreateVerdict = Type.Object(
  {
    verdict: VerdictKind,
    /**
     * who decided: ignored for signed-in users and their API tokens (their username is
     * recorded); only the bootstrap admin token may name someone ("admin-token" when omitted)
     */
    by: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "who decided" })),
    labels: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type CreateVerdict = Static<typeof CreateVerdict>;

export const Verdict = Type.Object({
  id: Id,
  incidentId: Id,
  verdict: VerdictKind,
  labels: Type.Array(Type.String()),
  note: Type.Union([Type.String(), Type.Null()]),
  by: Type.String(),
  createdAt: Ts,
});
export type Verdict = Static<typeof Verdict>;

export const IncidentClip = Type.Object({
  sha256: Type.String(),
  /** video/mp4 (H.264, plays in browsers) or video/x-msvideo (MJPEG AVI, to download) */
  contentType: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  durationMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
});
export type IncidentClip = Static<typeof IncidentClip>;

export const Incident = Type.Object({
  id: Id,
  projectId: Id,
  deviceId: Type.String(),
  eventId: Type.String(),
  status: IncidentStatus,
  label: Type.String(),
  score: Type.Number(),
  rule: Type.String({ description: "which rule raised it, human-readable" }),
  modelVersionId: Type.String(),
  bundleSha256: Type.String(),
  frameMeta: FrameMeta,
  mediaSha256: Type.Union([Type.String(), Type.Null()]),
  /** the device's video around the incident frame (video sources), once uploaded: `GET /incidents/:id/clip` */
  clip: Type.Optional(Type.Union([IncidentClip, Type.Null()])),
  createdAt: Ts,
  /** who acknowledged it (`POST /incidents/:id/acknowledge`) and when; null until someone did */
  acknowledgedBy: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  acknowledgedAt: Type.Optional(Type.Union([Ts, Type.Null()])),
  verdicts: Type.Array(Verdict),
});
export type Incident = Static<typeof Incident>;

export const IncidentQuery = Type.Object(
  {
    projectId: Type.Optional(Type.String()),
    deviceId: Type.Optional(Type.String()),
    status: Type.Optional(IncidentStatus),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

export const Notification = Type.Object({
  id: Id,
  incidentId: Id,
  channel: Type.Union([Type.Literal("email"), Type.Literal("webhook")]),
  target: Type.String(),
  status: Type.Union([
    Type.Literal("pending"),
    Type.Literal("sent"),
    Type.Literal("failed"),
    Type.Literal("suppressed"),
  ]),
  attempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Ts,
  sentAt: Type.Union([Ts, Type.Null()]),
});
export type Notification = Static<typeof Notification>;

export const HubStats = Type.Object({
  devices: Type.Object({ total: Type.Integer(), online: Type.Integer() }),
  events: Type.Integer(),
  incidents: Type.Integer(),
  verdicts: Type.Integer(),
  notifications: Type.Object({
    sent: Type.Integer(),
    failed: Type.Integer(),
    suppressed: Type.Integer(),
    pending: Type.Integer(),
  }),
  ingest: Type.Object({
    received: Type.Integer(),
    stored: Type.Integer(),
    duplicates: Type.Integer(),
    invalid: Type.Integer(),
    unknownDevice: Type.Integer(),
  }),
});
export type HubStats = Static<typeof HubStats>;
