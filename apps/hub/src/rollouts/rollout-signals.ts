import type { BacktestCounts, BacktestReport, Reported } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/**
 * What a group of devices did in a wave's window, read from what the hub already stores: events
 * (one per inferred frame), the incidents they raised and people's verdicts on them, the
 * devices' reported state, and their telemetry history. Nothing here decides; rollout-gates.ts
 * does.
 */
export interface GroupWindow {
  deviceIds: readonly string[];
  /** the model version the group runs in the window (the challenger, or the champion for control) */
  modelVersionId: string;
  pipeline: string;
  /** per device, the highest event seq stored when the window opened: the window is what came after */
  fromSeq: Readonly<Record<string, number>>;
  /** ISO time the window opened */
  since: string;
}

/** devices asked per query, so a thousand-device wave is a few statements, not one huge IN */
const CHUNK = 200;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** Frames (events) each device of the group inferred with the group's model in the window. */
export async function framesIn(db: Kysely<HubDatabase>, w: GroupWindow): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const part of chunks(w.deviceIds)) {
    // (device_id, seq) is indexed: each device's range after its starting seq is read, no more
    const rows = await db
      .selectFrom("events")
      .select(["device_id", (eb) => eb.fn.countAll<number | string>().as("n")])
      .where("model_version_id", "=", w.modelVersionId)
      .where("pipeline", "=", w.pipeline)
      .where((eb) => eb.or(part.map((id) => eb.and([eb("device_id", "=", id), eb("seq", ">", w.fromSeq[id] ?? 0)]))))
      .groupBy("device_id")
      .execute();
    for (const r of rows) out.set(r.device_id, Number(r.n));
  }
  return out;
}

export interface IncidentCounts {
  incidents: number;
  /** incidents a person marked a false alarm */
  falseAlarms: number;
  /** incidents with a verdict of any kind */
  reviewed: number;
}

/** Incidents the group's model raised in the window, and what people said of them. */
export async function incidentsIn(db: Kysely<HubDatabase>, w: GroupWindow): Promise<IncidentCounts> {
  const out: IncidentCounts = { incidents: 0, falseAlarms: 0, reviewed: 0 };
  for (const part of chunks(w.deviceIds)) {
    const rows = await db
      .selectFrom("incidents")
      .select(["status", (eb) => eb.fn.countAll<number | string>().as("n")])
      .where("device_id", "in", part)
      .where("model_version_id", "=", w.modelVersionId)
      .where("created_at", ">=", w.since)
      .groupBy("status")
      .execute();
    for (const r of rows) {
      const n = Number(r.n);
      out.incidents += n;
      if (r.status === "false_alarm") out.falseAlarms += n;
      if (r.status === "false_alarm" || r.status === "confirmed" || r.status === "relabeled") out.reviewed += n;
    }
  }
  return out;
}

/** Each device's reported state (null when it never reported). */
export async function reportedOf(
  db: Kysely<HubDatabase>,
  deviceIds: readonly string[],
): Promise<Map<string, Reported | null>> {
  const out = new Map<string, Reported | null>();
  for (const part of chunks(deviceIds)) {
    const rows = await db.selectFrom("devices").select(["id", "reported"]).where("id", "in", part).execute();
    for (const r of rows) out.set(r.id, r.reported ? (JSON.parse(r.reported) as Reported) : null);
  }
  return out;
}

/** The highest event seq stored from each device now: where a window opening now starts. */
export async function eventSeqs(
  db: Kysely<HubDatabase>,
  deviceIds: readonly string[],
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const part of chunks(deviceIds)) {
    const rows = await db.selectFrom("devices").select(["id", "events_max_seq"]).where("id", "in", part).execute();
    for (const r of rows) out[r.id] = Number(r.events_max_seq);
  }
  return out;
}

export interface TelemetryWindow {
  /** per device: the median of its per-minute p95 latency (ms) and mean frame rate in the window */
  current: Map<string, { p95: number; fps: number; minutes: number }>;
  /** the same, over as long a stretch just before the window opened (at most an hour) */
  baseline: Map<string, { p95: number; fps: number; minutes: number }>;
}

/** Each device's latency and frame rate in the window against its own just before (telemetry history). */
export async function telemetryIn(
  db: Kysely<HubDatabase>,
  deviceIds: readonly string[],
  since: string,
  now: number,
): Promise<TelemetryWindow> {
  const start = Date.parse(since);
  // the minute the window opened belongs to neither side: it mixes both models
  const openMinute = Math.floor(start / 60_000) * 60_000;
  const length = Math.min(3_600_000, Math.max(300_000, now - start));
  const from = new Date(openMinute - length).toISOString();
  const out: TelemetryWindow = { current: new Map(), baseline: new Map() };
  const byDevice = new Map<string, { cur: Array<[number, number]>; base: Array<[number, number]> }>();
  for (const part of chunks(deviceIds)) {
    const rows = await db
      .selectFrom("telemetry_points")
      .select(["device_id", "minute", "samples", "fps_sum", "p95_max"])
      .where("device_id", "in", part)
      .where("minute", ">=", from)
      .execute();
    for (const r of rows) {
      const t = Date.parse(r.minute);
      if (t === openMinute || r.samples === 0) continue;
      const slot = byDevice.get(r.device_id) ?? { cur: [], base: [] };
      (t > openMinute ? slot.cur : slot.base).push([r.p95_max, r.fps_sum / r.samples]);
      byDevice.set(r.device_id, slot);
    }
  }
  for (const [id, { cur, base }] of byDevice) {
    if (cur.length > 0) out.current.set(id, summarize(cur));
    if (base.length > 0) out.baseline.set(id, summarize(base));
  }
  return out;
}

function summarize(points: Array<[number, number]>): { p95: number; fps: number; minutes: number } {
  return {
    p95: median(points.map((p) => p[0])),
    fps: points.reduce((s, p) => s + p[1], 0) / points.length,
    minutes: points.length,
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The newest finished backtest of a model version: its id and totals (null when there is none yet). */
export async function latestBacktest(
  db: Kysely<HubDatabase>,
  modelVersionId: string,
): Promise<{ id: string; status: string; totals: BacktestCounts | null } | null> {
  const row = await db
    .selectFrom("backtests")
    .select(["id", "status", "report"])
    .where("model_version_id", "=", modelVersionId)
    .orderBy((eb) => eb.case().when("status", "=", "succeeded").then(0).else(1).end())
    .orderBy("created_at", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  const report = row.report ? (JSON.parse(row.report) as BacktestReport) : null;
  return { id: row.id, status: row.status, totals: row.status === "succeeded" ? (report?.totals ?? null) : null };
}
