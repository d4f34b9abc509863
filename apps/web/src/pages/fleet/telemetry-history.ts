import type { Device } from "@kensa/contracts";

export interface TelemetryPoint {
  /** ms since epoch of the agent's telemetry message */
  t: number;
  fps: number;
  p95: number;
}

/** points kept per device: 60 × the agents' telemetry interval, a few minutes of history */
const MAX_POINTS = 60;

// Module state, not component state: the history survives moving between the fleet and a
// device page. The hub keeps only the latest telemetry, so this is all the history there is.
const history = new Map<string, TelemetryPoint[]>();

/** Adds each device's latest telemetry once (keyed by its timestamp) and returns nothing. */
export function recordTelemetry(devices: readonly Device[]): void {
  for (const d of devices) {
    if (!d.telemetry) continue;
    const t = Date.parse(d.telemetry.ts);
    const points = history.get(d.id) ?? [];
    if (points.length > 0 && points[points.length - 1]!.t >= t) continue;
    points.push({ t, fps: d.telemetry.fps, p95: d.telemetry.latencyMs.p95 });
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    history.set(d.id, points);
  }
}

export function telemetryOf(deviceId: string): readonly TelemetryPoint[] {
  return history.get(deviceId) ?? [];
}
