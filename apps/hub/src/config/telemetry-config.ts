import { type Static, Type } from "@sinclair/typebox";

/**
 * `telemetry` in the hub config: the history of device telemetry the hub keeps for charts. Each
 * replica merges what it receives into one point per device per minute in memory and writes the
 * points every `flushSeconds` (and when it stops) in a few statements, whatever the number of
 * messages; points older than `windowDays` are deleted in batches every `pruneMinutes`.
 * `enabled: false` keeps only each device's latest telemetry, as before.
 */
export const TelemetryConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** days of one-minute points kept per device (1 000 devices × 7 days ≈ 10 M rows) */
    windowDays: Type.Number({ exclusiveMinimum: 0, maximum: 3_660, default: 7 }),
    /** seconds between writes of the merged points; what waits is lost if the hub is killed */
    flushSeconds: Type.Number({ minimum: 0.05, maximum: 3_600, default: 15 }),
    /** minutes between deletions of points older than the window */
    pruneMinutes: Type.Number({ minimum: 0.01, maximum: 10_080, default: 30 }),
    /** points deleted per transaction, so ingest commits between them */
    pruneBatch: Type.Integer({ minimum: 1, maximum: 100_000, default: 2_000 }),
    /** points waiting for a write at most (a database that is down); the oldest minutes go first */
    maxPending: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 200_000 }),
  },
  { additionalProperties: false, default: {} },
);

export type TelemetryConfig = Static<typeof TelemetryConfigSchema>;
