import { DRIFT_DEFAULT_WINDOW_HOURS } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { Gauge, type Registry } from "prom-client";
import type { HubDatabase } from "../db/schema.js";
import { DriftService } from "../drift/drift-service.js";

/** A scrape reuses figures this fresh: each champion's report scans a day of its events. */
const CACHE_MS = 60_000;

interface DriftFigure {
  project: string;
  model_version: string;
  statistic: string;
  psi: number;
}

/** The fleet-wide PSI of every project's champion over the default window (only where it has one). */
export async function readDriftFigures(db: Kysely<HubDatabase>, now = new Date()): Promise<DriftFigure[]> {
  const champions = await db
    .selectFrom("training_settings as t")
    .innerJoin("projects as p", "p.id", "t.project_id")
    .select(["p.slug as project", "t.champion_id as champion"])
    .where("t.champion_id", "is not", null)
    .execute();
  const drift = new DriftService(db);
  const out: DriftFigure[] = [];
  for (const c of champions) {
    const report = await drift.report(c.champion!, DRIFT_DEFAULT_WINDOW_HOURS, now);
    const all = report.groups.find((g) => g.deviceId === null);
    for (const s of all?.statistics ?? []) {
      if (s.label !== null || s.psi === null) continue;
      out.push({ project: c.project, model_version: c.champion!, statistic: s.statistic, psi: s.psi });
    }
  }
  return out;
}

/**
 * `kensa_drift_psi`: how far each project's champion has drifted from its evaluation snapshot
 * over the last day, per statistic (luma, contrast, score), every device pooled. A statistic
 * without a PSI (no reference, too few frames) has no sample rather than a made-up value.
 */
export function registerDriftMetrics(r: Registry, db: Kysely<HubDatabase>): void {
  let cached: { at: number; figures: Promise<DriftFigure[]> } | null = null;
  const figures = () => {
    const now = Date.now();
    if (!cached || now - cached.at > CACHE_MS) {
      const p = readDriftFigures(db, new Date(now));
      cached = { at: now, figures: p };
      // a failed read is not kept: the next scrape tries again
      p.catch(() => {
        if (cached?.figures === p) cached = null;
      });
    }
    return cached.figures;
  };
  const psi = new Gauge({
    name: "kensa_drift_psi",
    help: `population stability index of each project's champion over the last ${DRIFT_DEFAULT_WINDOW_HOURS} h against its evaluation snapshot, per statistic (< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant)`,
    labelNames: ["project", "model_version", "statistic"],
    registers: [r],
    async collect() {
      psi.reset();
      for (const f of await figures()) {
        psi.set({ project: f.project, model_version: f.model_version, statistic: f.statistic }, f.psi);
      }
    },
  });
}
