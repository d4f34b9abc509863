import {
  type DeviceTelemetry,
  type DeviceTelemetryQuery,
  type FleetTelemetry,
  type FleetTelemetryQuery,
  type FleetTelemetrySeries,
  KensaError,
} from "@kensa/contracts";
import type { TelemetryHistory } from "./telemetry-history.js";
import { type Aggregate, MINUTE_MS, mergeInto, resample, round, toPoints } from "./telemetry-point.js";

const HOUR_MS = 3_600_000;
/** points a reply holds at most, whatever the range and step asked */
export const MAX_POINTS = 2_000;
/** points a device reply aims at when the step is left to the hub */
const TARGET_POINTS = 360;
/** how far back the fleet's sparklines may reach */
const FLEET_MAX_MS = 24 * HOUR_MS;

/** A range checked and rounded to its step. */
interface Range {
  start: number;
  until: number;
  stepMs: number;
}

/**
 * One device's history over a range: stored minutes plus the ones this replica has not written
 * yet, merged into points of the step. The caller has checked that the device exists.
 */
export async function deviceTelemetry(
  history: TelemetryHistory,
  deviceId: string,
  q: DeviceTelemetryQuery,
): Promise<DeviceTelemetry> {
  const now = history.now();
  const until = q.until !== undefined ? Date.parse(q.until) : now;
  const since = q.since !== undefined ? Date.parse(q.since) : until - HOUR_MS;
  const range = checkRange(since, until, q.step, now);
  const [from, to] = [iso(range.start), iso(range.until)];
  const stored = await history.store.device(deviceId, from, to);
  const rows = withPending(stored, history.pending(new Set([deviceId])), from, to);
  return {
    deviceId,
    since: from,
    until: to,
    step: range.stepMs / 1000,
    windowDays: history.config.windowDays,
    points: toPoints(resample(rows, range.stepMs)),
  };
}

/** Every in-service device's recent fps and p95 latency, compactly (devices without any left out). */
export async function fleetTelemetry(history: TelemetryHistory, q: FleetTelemetryQuery): Promise<FleetTelemetry> {
  const now = history.now();
  const since = q.since !== undefined ? Date.parse(q.since) : now - HOUR_MS;
  if (now - since > FLEET_MAX_MS) {
    throw new KensaError("KENSA_ERR_TELEMETRY_RANGE_INVALID", "the fleet's telemetry reaches back 24 hours at most", {
      issues: [{ path: "/since", message: "at most 24 h ago" }],
    });
  }
  const range = checkRange(since, now, q.step ?? 60, now);
  const [from, to] = [iso(range.start), iso(range.until)];
  const [stored, ids] = await Promise.all([
    history.store.fleet(q.projectId, from, to),
    history.store.deviceIds(q.projectId),
  ]);
  const rows = withPending(stored, history.pending(ids), from, to);
  const byDevice = new Map<string, Aggregate[]>();
  for (const r of rows) byDevice.set(r.device_id, [...(byDevice.get(r.device_id) ?? []), r]);
  const devices: FleetTelemetrySeries[] = [];
  for (const [deviceId, own] of [...byDevice].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const series: FleetTelemetrySeries = { deviceId, at: [], fps: [], p95: [] };
    for (const p of resample(own, range.stepMs)) {
      series.at.push(Math.round((Date.parse(p.minute) - range.start) / range.stepMs));
      series.fps.push(round(p.fps_sum / p.samples));
      series.p95.push(round(p.p95_max));
    }
    devices.push(series);
  }
  return { start: from, until: to, step: range.stepMs / 1000, devices };
}

/**
 * Checks a range and picks or checks its step (seconds): `since` before `until` and not in the
 * future, at most MAX_POINTS points. The start is rounded down to the step.
 */
function checkRange(since: number, until: number, step: number | undefined, now: number): Range {
  const bad = (message: string, path: string) =>
    new KensaError("KENSA_ERR_TELEMETRY_RANGE_INVALID", `telemetry range: ${message}`, {
      issues: [{ path, message }],
    });
  if (!Number.isFinite(since) || !Number.isFinite(until)) throw bad("not a time", "/since");
  if (since >= until) throw bad("since must be before until", "/since");
  if (since > now) throw bad("since is in the future", "/since");
  const span = until - since;
  const stepMs =
    step !== undefined ? step * 1000 : Math.max(1, Math.ceil(span / TARGET_POINTS / MINUTE_MS)) * MINUTE_MS;
  const start = Math.floor(since / stepMs) * stepMs;
  const points = Math.ceil((until - start) / stepMs);
  if (points > MAX_POINTS) {
    throw bad(`${points} points of ${stepMs / 1000} s; at most ${MAX_POINTS}: ask a longer step`, "/step");
  }
  return { start, until, stepMs };
}

/** Stored minutes with the pending ones of the same range merged in (a pending minute may also be stored). */
function withPending(stored: Aggregate[], pending: Aggregate[], from: string, to: string): Aggregate[] {
  if (pending.length === 0) return stored;
  const byKey = new Map(stored.map((r) => [`${r.device_id}\n${r.minute}`, { ...r }]));
  for (const p of pending) {
    if (p.minute < from || p.minute >= to) continue;
    const key = `${p.device_id}\n${p.minute}`;
    const into = byKey.get(key);
    if (into) mergeInto(into, p);
    else byKey.set(key, p);
  }
  return [...byKey.values()];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
