import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { EntityId as Id, Timestamp as Ts } from "../common.js";
import { FrameMeta, InferenceResult } from "../mqtt/payloads.js";

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

/** The `nextCursor` of a page, passed back to read the next one; opaque, valid for the same order. */
const Cursor = Type.String({ minLength: 1, maxLength: 1024 });

/** A page of a list read with keyset pagination: `nextCursor` is null on the last page. */
export const KeysetPage = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const EventOrder = Type.Union([Type.Literal("seq"), Type.Literal("newest")], {
  description: "seq (default): by device, then the device's seq, ascending; newest: by timeField, newest first",
});
export type EventOrder = Static<typeof EventOrder>;

export const EventQuery = Type.Object(
  {
    deviceId: Type.Optional(Type.String()),
    projectId: Type.Optional(Type.String()),
    /** only events with a greater seq: one device's events after the last one a reader has */
    afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    from: Type.Optional(Ts),
    to: Type.Optional(Ts),
    timeField: Type.Optional(
      Type.Union([Type.Literal("ts"), Type.Literal("receivedAt")], {
        description: "what from/to and the newest order read: capture time (ts) or storage time (receivedAt, default)",
      }),
    ),
    order: Type.Optional(EventOrder),
    cursor: Type.Optional(Cursor),
    limit: Type.Integer({ minimum: 1, maximum: 10000, default: 100 }),
  },
  { additionalProperties: false },
);
export type EventQuery = Static<typeof EventQuery>;

/** The reply to a frame upload: `linked` once the event it belongs to is stored. */
export const EventMediaReceipt = Type.Object({
  eventId: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  linked: Type.Boolean(),
});
export type EventMediaReceipt = Static<typeof EventMediaReceipt>;

/** `PUT /events/:id/clip`: what the device knows of the clip it uploads. */
export const EventClipQuery = Type.Object(
  {
    durationMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    frames: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export type EventClipQuery = Static<typeof EventClipQuery>;

/** The reply to a clip upload: the incident it shows, once one was raised for the event. */
export const EventClipReceipt = Type.Object({
  eventId: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  incidentId: Type.Union([Type.String(), Type.Null()]),
});
export type EventClipReceipt = Static<typeof EventClipReceipt>;

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
  /** on a central hub, the site hub it came from and its id there (docs/operations.md, "Multi-site") */
  site: Type.Optional(Type.Union([Type.Object({ id: Type.String(), incidentId: Type.String() }), Type.Null()])),
});
export type Incident = Static<typeof Incident>;

export const IncidentQuery = Type.Object(
  {
    projectId: Type.Optional(Type.String()),
    deviceId: Type.Optional(Type.String()),
    status: Type.Optional(IncidentStatus),
    label: Type.Optional(Type.String()),
    /** on a central hub: incidents a site hub sent up (its id); "local": this hub's own */
    siteId: Type.Optional(Type.String({ pattern: "^(local|[a-z0-9][a-z0-9-]{0,62})$" })),
    /** createdAt at or after */
    from: Type.Optional(Ts),
    /** createdAt before */
    to: Type.Optional(Ts),
    cursor: Type.Optional(Cursor),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
export type IncidentQuery = Static<typeof IncidentQuery>;

export const NotificationQuery = Type.Object(
  {
    incidentId: Type.Optional(Type.String()),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
export type NotificationQuery = Static<typeof NotificationQuery>;

export const Notification = Type.Object({
  id: Id,
  incidentId: Id,
  channel: Type.Union([Type.Literal("email"), Type.Literal("webhook"), Type.Literal("sms")]),
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

// ---- live incidents ---------------------------------------------------------------------

/** `GET /incidents/stream` (Server-Sent Events): which incidents to deliver. */
export const IncidentStreamQuery = Type.Object(
  {
    projectId: Type.Optional(Type.String()),
    deviceId: Type.Optional(Type.String()),
    /** an update is delivered when the incident had or now has this status (so a list can drop it) */
    status: Type.Optional(IncidentStatus),
  },
  { additionalProperties: false },
);
export type IncidentStreamQuery = Static<typeof IncidentStreamQuery>;

/** SSE event names of the incident stream; each event's data is the Incident JSON. */
export const INCIDENT_STREAM_EVENTS = ["incident.created", "incident.updated"] as const;
export type IncidentStreamEvent = (typeof INCIDENT_STREAM_EVENTS)[number];
