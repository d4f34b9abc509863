import { type Static, Type } from "@sinclair/typebox";
import { Timestamp as Ts } from "../common.js";

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
  /** counted by this hub process since it started */
  ingest: Type.Object({
    received: Type.Integer(),
    stored: Type.Integer(),
    duplicates: Type.Integer(),
    invalid: Type.Integer(),
    unknownDevice: Type.Integer(),
    /** events refused for good, kept in the database with their reason and confirmed as rejected */
    rejected: Type.Integer(),
    /** events the database failed to store (left unconfirmed: the device sends them again) */
    storeFailed: Type.Integer(),
    /** events turned away while the ingest queue was full (left unconfirmed, sent again) */
    shed: Type.Integer(),
    /** events waiting for their batch to commit now */
    queued: Type.Integer(),
  }),
});
export type HubStats = Static<typeof HubStats>;

/** Something that keeps the hub from doing its job in full, while it still answers. */
export const HealthProblem = Type.Object({
  /** stable error code, e.g. KENSA_ERR_INGEST_STORAGE_FAILED */
  code: Type.String(),
  message: Type.String(),
  since: Ts,
});
export type HealthProblem = Static<typeof HealthProblem>;

/**
 * `GET /health`: the hub answers, with its protocol version and whether it reaches the broker.
 * `degraded` lists why (always 200: the hub still serves what it can; a load balancer should
 * read `status`).
 */
export const HubHealth = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("degraded")]),
  protocol: Type.Integer(),
  mqtt: Type.Union([Type.Literal("connected"), Type.Literal("disconnected")]),
  problems: Type.Array(HealthProblem),
});
export type HubHealth = Static<typeof HubHealth>;
