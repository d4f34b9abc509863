// Telemetry history (migration 0022).

/** One device's telemetry during one minute, merged from its messages (see TelemetryPoint). */
export interface TelemetryPointsTable {
  device_id: string;
  /** the minute's start, ISO-8601 (`2026-01-02T03:04:00.000Z`) */
  minute: string;
  /** messages merged */
  samples: number;
  fps_sum: number;
  fps_min: number;
  fps_max: number;
  p50_sum: number;
  p95_max: number;
  outbox_max: number;
  media_queue_max: number;
  capture_queue_max: number | null;
  /** the agent's time of the latest message merged: its counters are the ones below */
  last_ts: string;
  frames_total: number;
  frames_dropped: number;
  events_dropped: number | null;
  media_evicted: number | null;
}
