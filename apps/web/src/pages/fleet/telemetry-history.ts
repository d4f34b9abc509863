import { type Device, type FleetTelemetry, telemetryRoutes } from "@kensa/contracts";
import { useCallback, useMemo } from "react";
import { useQuery } from "../../api/use-query";

/** One point of a trend line: mean fps and worst p95 latency of an interval (or one live sample). */
export interface SparkPoint {
  /** ms since the epoch: the interval's start, or the agent's time of a live sample */
  t: number;
  fps: number;
  p95: number;
}

/** ms between reloads of the hub's history: it holds one point per minute */
const HISTORY_POLL_MS = 30_000;

// The newest telemetry each device poll brought, by device: the live end of a trend line, newer
// than the hub's last point. Module state, so moving between the fleet and a device keeps it.
const latest = new Map<string, SparkPoint>();

/** Keeps each device's newest telemetry (from the device polls) as the live end of its lines. */
export function recordTelemetry(devices: readonly Device[]): void {
  for (const d of devices) {
    if (!d.telemetry) continue;
    const t = Date.parse(d.telemetry.ts);
    const known = latest.get(d.id);
    if (known && known.t >= t) continue;
    latest.set(d.id, { t, fps: d.telemetry.fps, p95: d.telemetry.latencyMs.p95 });
  }
}

/** `points` with the device's newest live sample after them, when it is newer than their last. */
export function withLive(deviceId: string, points: readonly SparkPoint[], stepMs: number): SparkPoint[] {
  const live = latest.get(deviceId);
  const last = points[points.length - 1];
  // a sample inside the hub's last interval is already part of it
  if (!live || (last && live.t < last.t + stepMs)) return [...points];
  return [...points, live];
}

/** Every device's trend line, and whether the hub's history has arrived. */
export interface FleetTelemetryLines {
  pointsOf(deviceId: string): SparkPoint[];
  loaded: boolean;
  error: unknown;
}

/** The hub's history of every device of the project as trend lines, reloaded every 30 s. */
export function useFleetTelemetry(projectId: string | undefined): FleetTelemetryLines {
  const q = useQuery(telemetryRoutes.fleetTelemetry, { query: { projectId } }, { intervalMs: HISTORY_POLL_MS });
  const series = useMemo(() => (q.data ? seriesOf(q.data) : null), [q.data]);
  const stepMs = (q.data?.step ?? 60) * 1000;
  const pointsOf = useCallback(
    (deviceId: string) => withLive(deviceId, series?.get(deviceId) ?? [], stepMs),
    [series, stepMs],
  );
  return { pointsOf, loaded: series !== null, error: q.error };
}

function seriesOf(reply: FleetTelemetry): Map<string, SparkPoint[]> {
  const start = Date.parse(reply.start);
  const stepMs = reply.step * 1000;
  return new Map(
    reply.devices.map((d) => [
      d.deviceId,
      d.at.map((at, i) => ({ t: start + at * stepMs, fps: d.fps[i] ?? 0, p95: d.p95[i] ?? 0 })),
    ]),
  );
}

/** The ranges the device page offers. */
export const RANGES = [
  { label: "1 h", ms: 3_600_000 },
  { label: "24 h", ms: 86_400_000 },
  { label: "7 d", ms: 7 * 86_400_000 },
] as const;

/**
 * One device's history over the last `rangeMs` from the hub. The range's start moves once a
 * minute (the device page re-renders with its polls), which reloads it: the chart follows time.
 */
export function useDeviceTelemetry(deviceId: string, rangeMs: number) {
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const since = new Date(minute - rangeMs).toISOString();
  const q = useQuery(telemetryRoutes.deviceTelemetry, { params: { id: deviceId }, query: { since } });
  const stepMs = (q.data?.step ?? 60) * 1000;
  const points = useMemo<SparkPoint[]>(
    () => (q.data?.points ?? []).map((p) => ({ t: Date.parse(p.t), fps: p.fps, p95: p.p95 })),
    [q.data],
  );
  return {
    points: q.data ? withLive(deviceId, points, stepMs) : [],
    /** the reply, for the counters and queue depths of its points */
    reply: q.data,
    loaded: q.data !== undefined,
    error: q.error,
    reload: q.reload,
  };
}
