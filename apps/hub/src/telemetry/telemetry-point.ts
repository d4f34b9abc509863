import type { Telemetry, TelemetryPoint } from "@kensa/contracts";
import type { TelemetryPointsTable } from "../db/schema.js";

export const MINUTE_MS = 60_000;

/**
 * One device's telemetry over one interval, merged: the stored row shape, also used in memory
 * before a write and when minutes are merged into longer steps. Every field merges without
 * knowing the order the parts arrived in, so replicas and flushes can merge in any order.
 */
export type Aggregate = TelemetryPointsTable;

/** The aggregate of one message, in the minute `minuteMs`. */
export function aggregateOf(deviceId: string, minuteMs: number, t: Telemetry): Aggregate {
  const ts = Date.parse(t.ts);
  return {
    device_id: deviceId,
    minute: new Date(minuteMs).toISOString(),
    samples: 1,
    fps_sum: t.fps,
    fps_min: t.fps,
    fps_max: t.fps,
    p50_sum: t.latencyMs.p50,
    p95_max: t.latencyMs.p95,
    outbox_max: t.outboxDepth,
    media_queue_max: t.mediaQueueDepth,
    capture_queue_max: t.captureQueueDepth ?? null,
    // normalised, so that later/earlier compares as text (the stored merge compares text too)
    last_ts: new Date(Number.isFinite(ts) ? ts : minuteMs).toISOString(),
    frames_total: t.framesTotal,
    frames_dropped: t.framesDropped,
    events_dropped: t.eventsDropped ?? null,
    media_evicted: t.mediaEvicted ?? null,
  };
}

/** Merges `b` into `a` (same device; `a`'s minute stays). */
export function mergeInto(a: Aggregate, b: Aggregate): Aggregate {
  a.samples += b.samples;
  a.fps_sum += b.fps_sum;
  a.fps_min = Math.min(a.fps_min, b.fps_min);
  a.fps_max = Math.max(a.fps_max, b.fps_max);
  a.p50_sum += b.p50_sum;
  a.p95_max = Math.max(a.p95_max, b.p95_max);
  a.outbox_max = Math.max(a.outbox_max, b.outbox_max);
  a.media_queue_max = Math.max(a.media_queue_max, b.media_queue_max);
  a.capture_queue_max = maxOrNull(a.capture_queue_max, b.capture_queue_max);
  if (b.last_ts >= a.last_ts) {
    a.last_ts = b.last_ts;
    a.frames_total = b.frames_total;
    a.frames_dropped = b.frames_dropped;
    a.events_dropped = b.events_dropped ?? a.events_dropped;
    a.media_evicted = b.media_evicted ?? a.media_evicted;
  }
  return a;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/**
 * Merges minute aggregates (any order, of one device) into one per `stepMs` interval, aligned
 * to multiples of the step since the epoch so that every query of a step shares its intervals.
 * Sorted by time; the input is not changed.
 */
export function resample(rows: readonly Aggregate[], stepMs: number): Aggregate[] {
  const byStart = new Map<number, Aggregate>();
  for (const r of rows) {
    const start = Math.floor(Date.parse(r.minute) / stepMs) * stepMs;
    const into = byStart.get(start);
    if (into) mergeInto(into, r);
    else byStart.set(start, { ...r, minute: new Date(start).toISOString() });
  }
  return [...byStart.entries()].sort((x, y) => x[0] - y[0]).map(([, a]) => a);
}

/** Points of the API from resampled aggregates (sorted), with counter increases between them. */
export function toPoints(rows: readonly Aggregate[]): TelemetryPoint[] {
  let prev: Aggregate | null = null;
  return rows.map((r) => {
    const point: TelemetryPoint = {
      t: r.minute,
      samples: r.samples,
      fps: round(r.fps_sum / r.samples),
      fpsMin: round(r.fps_min),
      fpsMax: round(r.fps_max),
      p50: round(r.p50_sum / r.samples),
      p95: round(r.p95_max),
      framesTotal: r.frames_total,
      framesDropped: r.frames_dropped,
      framesDelta: prev ? increase(prev.frames_total, r.frames_total) : null,
      droppedDelta: prev ? increase(prev.frames_dropped, r.frames_dropped) : null,
      outboxDepth: r.outbox_max,
      mediaQueueDepth: r.media_queue_max,
      captureQueueDepth: r.capture_queue_max,
      eventsDropped: r.events_dropped,
      mediaEvicted: r.media_evicted,
    };
    prev = r;
    return point;
  });
}

/** A counter's increase; a counter that went down was reset (agent restart): it counts from 0. */
function increase(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** two decimals: charts need no more, and replies of thousands of points stay small */
export function round(x: number): number {
  return Math.round(x * 100) / 100;
}
