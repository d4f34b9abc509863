import type { Kysely } from "kysely";
import { Gauge, type Registry, Summary } from "prom-client";
import type { HubDatabase } from "../db/schema.js";
import { FIELD_WINDOW_DAYS } from "../field-window.js";

/** Reviewed incidents the review-latency quantiles are computed from (the newest). */
const LATENCY_SAMPLE = 10_000;
/** A scrape reuses figures this fresh: several gauges read one query, and a busy scraper cannot load the database. */
const CACHE_MS = 10_000;

interface IncidentGroup {
  project: string;
  model_version: string;
  version: string;
  label: string;
  status: string;
  n: number;
}

export interface FieldFigures {
  incidents: IncidentGroup[];
  /** per project: seconds from an incident to its first verdict */
  reviewSeconds: Map<string, number[]>;
  jobs: Array<{ type: string; status: string; n: number }>;
  devices: Array<{ project: string; presence: string; n: number }>;
  rollouts: Array<{ project: string; state: string; mode: string; n: number }>;
}

/** Reads the field figures: incidents by model version, label and status; review times; jobs; devices. */
export async function readFieldFigures(db: Kysely<HubDatabase>, now = Date.now()): Promise<FieldFigures> {
  const since = new Date(now - FIELD_WINDOW_DAYS * 86_400_000).toISOString();
  const [incidents, reviews, jobs, devices, rollouts] = await Promise.all([
    db
      .selectFrom("incidents as i")
      .innerJoin("projects as p", "p.id", "i.project_id")
      .leftJoin("model_versions as m", "m.id", "i.model_version_id")
      .select((eb) => [
        "p.slug as project",
        "i.model_version_id as model_version",
        "m.version as version",
        "i.label as label",
        "i.status as status",
        eb.fn.countAll<number | string>().as("n"),
      ])
      .where("i.created_at", ">=", since)
      .groupBy(["p.slug", "i.model_version_id", "m.version", "i.label", "i.status"])
      .execute(),
    db
      .selectFrom("incidents as i")
      .innerJoin("projects as p", "p.id", "i.project_id")
      .innerJoin("verdicts as v", "v.incident_id", "i.id")
      .select((eb) => ["p.slug as project", "i.created_at as created", eb.fn.min("v.created_at").as("first")])
      .where("i.created_at", ">=", since)
      .groupBy(["i.id", "p.slug", "i.created_at"])
      .orderBy("i.created_at", "desc")
      .limit(LATENCY_SAMPLE)
      .execute(),
    db
      .selectFrom("jobs")
      .select((eb) => ["type", "status", eb.fn.countAll<number | string>().as("n")])
      .groupBy(["type", "status"])
      .execute(),
    db
      .selectFrom("devices as d")
      .innerJoin("projects as p", "p.id", "d.project_id")
      .select((eb) => ["p.slug as project", "d.presence as presence", eb.fn.countAll<number | string>().as("n")])
      .groupBy(["p.slug", "d.presence"])
      .execute(),
    db
      .selectFrom("rollouts as r")
      .innerJoin("projects as p", "p.id", "r.project_id")
      .select((eb) => [
        "p.slug as project",
        "r.state as state",
        "r.mode as mode",
        eb.fn.countAll<number | string>().as("n"),
      ])
      .groupBy(["p.slug", "r.state", "r.mode"])
      .execute(),
  ]);
  const reviewSeconds = new Map<string, number[]>();
  for (const r of reviews) {
    const s = (Date.parse(String(r.first)) - Date.parse(r.created)) / 1000;
    if (!Number.isFinite(s)) continue;
    const list = reviewSeconds.get(r.project) ?? [];
    list.push(Math.max(0, s));
    reviewSeconds.set(r.project, list);
  }
  return {
    incidents: incidents.map((r) => ({
      project: r.project,
      model_version: r.model_version,
      version: r.version === null ? "" : String(r.version),
      label: r.label,
      status: r.status,
      n: Number(r.n),
    })),
    reviewSeconds,
    jobs: jobs.map((r) => ({ type: r.type, status: r.status, n: Number(r.n) })),
    devices: devices.map((r) => ({ project: r.project, presence: r.presence, n: Number(r.n) })),
    rollouts: rollouts.map((r) => ({ project: r.project, state: r.state, mode: r.mode, n: Number(r.n) })),
  };
}

/**
 * Field figures as gauges: what the models do on the shop floor, read from the incidents and
 * verdicts people recorded. Field precision is confirmed / (confirmed + false alarm + relabeled)
 * per model version and label: a relabeled incident was a real defect but not of the label the
 * model named, so it does not count for that label.
 */
export function registerFieldMetrics(r: Registry, db: Kysely<HubDatabase>): void {
  let cached: { at: number; figures: Promise<FieldFigures> } | null = null;
  const figures = () => {
    const now = Date.now();
    if (!cached || now - cached.at > CACHE_MS) {
      const p = readFieldFigures(db, now);
      cached = { at: now, figures: p };
      // a failed read is not kept: the next scrape tries again
      p.catch(() => {
        if (cached?.figures === p) cached = null;
      });
    }
    return cached.figures;
  };
  const incidents = new Gauge({
    name: "kensa_field_incidents",
    help: `incidents raised in the last ${FIELD_WINDOW_DAYS} days by project, model version, label and review status`,
    labelNames: ["project", "model_version", "version", "label", "status"],
    registers: [r],
    async collect() {
      incidents.reset();
      for (const g of (await figures()).incidents) {
        const { n, ...labels } = g;
        incidents.set(labels, n);
      }
    },
  });
  const precision = new Gauge({
    name: "kensa_field_precision",
    help: `confirmed / reviewed incidents of the last ${FIELD_WINDOW_DAYS} days per project, model version and label (only where some were reviewed)`,
    labelNames: ["project", "model_version", "version", "label"],
    registers: [r],
    async collect() {
      precision.reset();
      const byKey = new Map<string, { labels: Record<string, string>; confirmed: number; reviewed: number }>();
      for (const g of (await figures()).incidents) {
        if (!["confirmed", "false_alarm", "relabeled"].includes(g.status)) continue;
        const key = [g.project, g.model_version, g.label].join("\u0000");
        const e = byKey.get(key) ?? {
          labels: { project: g.project, model_version: g.model_version, version: g.version, label: g.label },
          confirmed: 0,
          reviewed: 0,
        };
        e.reviewed += g.n;
        if (g.status === "confirmed") e.confirmed += g.n;
        byKey.set(key, e);
      }
      for (const e of byKey.values()) precision.set(e.labels, e.confirmed / e.reviewed);
    },
  });
  // a summary rebuilt from the database at each scrape: quantiles, sum and count of the window
  const review = new Summary({
    name: "kensa_review_latency_seconds",
    help: `seconds from an incident to its first verdict, over incidents of the last ${FIELD_WINDOW_DAYS} days (newest ${LATENCY_SAMPLE})`,
    labelNames: ["project"],
    percentiles: [0.5, 0.9, 0.99],
    registers: [r],
    async collect() {
      const byProject = (await figures()).reviewSeconds;
      review.reset();
      for (const [project, values] of byProject) for (const v of values) review.observe({ project }, v);
    },
  });
  const jobs = new Gauge({
    name: "kensa_jobs",
    help: "jobs in the hub's queue (training, evaluation, gate, import) by type and status",
    labelNames: ["type", "status"],
    registers: [r],
    async collect() {
      jobs.reset();
      for (const j of (await figures()).jobs) jobs.set({ type: j.type, status: j.status }, j.n);
    },
  });
  const devices = new Gauge({
    name: "kensa_devices",
    help: "enrolled devices by project and presence (online, offline, never connected)",
    labelNames: ["project", "presence"],
    registers: [r],
    async collect() {
      devices.reset();
      for (const d of (await figures()).devices) devices.set({ project: d.project, presence: d.presence }, d.n);
    },
  });
  const rollouts = new Gauge({
    name: "kensa_rollouts",
    help: "staged rollouts by project, state (planned, running, paused, rolled_back, completed, aborted) and mode",
    labelNames: ["project", "state", "mode"],
    registers: [r],
    async collect() {
      rollouts.reset();
      for (const x of (await figures()).rollouts)
        rollouts.set({ project: x.project, state: x.state, mode: x.mode }, x.n);
    },
  });
}
