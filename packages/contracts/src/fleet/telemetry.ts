import { type Static, Type } from "@sinclair/typebox";
import { Timestamp } from "../common.js";
import { defineRoutes } from "../route.js";

/** A count that may be absent from older agents' telemetry. */
const OptionalCount = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);

/**
 * One point of a device's telemetry history: what the agent reported during `step` seconds from
 * `t`, merged. Rates and latencies are averaged over the messages (`samples`), p95 latency and
 * queue depths are the worst seen, and counters (frames, drops, evictions) are the last value
 * with, for frames and drops, the increase since the point before.
 */
export const TelemetryPoint = Type.Object({
  /** start of the point's interval */
  t: Timestamp,
  /** telemetry messages merged into the point */
  samples: Type.Integer({ minimum: 1 }),
  /** mean frames per second */
  fps: Type.Number(),
  fpsMin: Type.Number(),
  fpsMax: Type.Number(),
  /** mean of the reported p50 latencies, ms */
  p50: Type.Number(),
  /** highest reported p95 latency, ms */
  p95: Type.Number(),
  /** the agent's counters as last reported in the interval */
  framesTotal: Type.Integer({ minimum: 0 }),
  framesDropped: Type.Integer({ minimum: 0 }),
  /**
   * frames counted since the previous point of the reply (null for the first); an agent restart
   * resets its counters, and then the count since the restart is given
   */
  framesDelta: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  /** frames dropped since the previous point, as `framesDelta` */
  droppedDelta: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  /** deepest queues seen in the interval */
  outboxDepth: Type.Integer({ minimum: 0 }),
  mediaQueueDepth: Type.Integer({ minimum: 0 }),
  captureQueueDepth: OptionalCount,
  eventsDropped: OptionalCount,
  mediaEvicted: OptionalCount,
});
export type TelemetryPoint = Static<typeof TelemetryPoint>;

/** seconds of one point: the stored resolution is one minute, longer steps merge minutes */
const Step = Type.Integer({ minimum: 60, maximum: 86_400, multipleOf: 60 });

/** `GET /devices/:id/telemetry`: a range (the last hour by default) at a step (chosen when omitted). */
export const DeviceTelemetryQuery = Type.Object(
  {
    /** the range's start; `until` − 1 h when omitted */
    since: Type.Optional(Timestamp),
    /** the range's end; now when omitted */
    until: Type.Optional(Timestamp),
    /** seconds per point; the smallest multiple of 60 giving at most 360 points when omitted */
    step: Type.Optional(Step),
  },
  { additionalProperties: false },
);
export type DeviceTelemetryQuery = Static<typeof DeviceTelemetryQuery>;

export const DeviceTelemetry = Type.Object({
  deviceId: Type.String(),
  /** the range asked, its start rounded down to the step */
  since: Timestamp,
  until: Timestamp,
  step: Type.Integer(),
  /** days of history the hub keeps (`telemetry.windowDays`) */
  windowDays: Type.Number(),
  /** oldest first; intervals without telemetry have no point */
  points: Type.Array(TelemetryPoint),
});
export type DeviceTelemetry = Static<typeof DeviceTelemetry>;

/** `GET /telemetry`: every device's recent history, for sparklines. */
export const FleetTelemetryQuery = Type.Object(
  {
    /** one project's devices (in service); all devices when omitted */
    projectId: Type.Optional(Type.String()),
    /** the range's start; 1 h ago when omitted, at most 24 h ago */
    since: Type.Optional(Timestamp),
    /** seconds per point; 60 when omitted */
    step: Type.Optional(Step),
  },
  { additionalProperties: false },
);
export type FleetTelemetryQuery = Static<typeof FleetTelemetryQuery>;

/**
 * One device's series, compact: point i is at `start + at[i] × step` seconds, with mean fps
 * `fps[i]` and highest p95 latency `p95[i]` (ms).
 */
export const FleetTelemetrySeries = Type.Object({
  deviceId: Type.String(),
  at: Type.Array(Type.Integer({ minimum: 0 })),
  fps: Type.Array(Type.Number()),
  p95: Type.Array(Type.Number()),
});
export type FleetTelemetrySeries = Static<typeof FleetTelemetrySeries>;

export const FleetTelemetry = Type.Object({
  /** start of the first interval (the range's start rounded down to the step) */
  start: Timestamp,
  until: Timestamp,
  step: Type.Integer(),
  /** devices with telemetry in the range only */
  devices: Type.Array(FleetTelemetrySeries),
});
export type FleetTelemetry = Static<typeof FleetTelemetry>;

const IdParams = Type.Object({ id: Type.String() });

/** Telemetry history kept by the hub: one device's charts and the fleet's sparklines. */
export const telemetryRoutes = defineRoutes({
  deviceTelemetry: {
    method: "GET",
    path: "/api/v1/devices/:id/telemetry",
    summary: "A device's telemetry history over a range, one point per step (merged from one-minute points)",
    permission: "devices:read",
    params: IdParams,
    query: DeviceTelemetryQuery,
    reply: DeviceTelemetry,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_TELEMETRY_RANGE_INVALID"],
  },
  fleetTelemetry: {
    method: "GET",
    path: "/api/v1/telemetry",
    summary: "Recent fps and p95 latency of every device (of a project), compactly, for sparklines",
    permission: "devices:read",
    query: FleetTelemetryQuery,
    reply: FleetTelemetry,
    errors: ["KENSA_ERR_TELEMETRY_RANGE_INVALID"],
  },
});
