import { randomBytes } from "node:crypto";
import {
  DRIFT_DEFAULT_WINDOW_HOURS,
  type DriftReport,
  type DriftStatistic,
  type DriftTrigger,
  KensaError,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { AuditLog } from "../people/audit-log.js";
import { driftGroup, poolDevices } from "./drift-report.js";
import { projectOfModel, readFieldHistograms, readReference } from "./drift-store.js";

/** Devices listed in a report beside the whole fleet, most frames first: a reply stays bounded. */
export const DRIFT_MAX_DEVICES = 500;

/** What the hub tells people when a champion drifts (drift alerts are sent by notify/). */
export interface DriftAlert {
  projectId: string;
  modelVersionId: string;
  /** the statistic over the threshold (the largest, for `any`) */
  statistic: "luma" | "contrast" | "score";
  psi: number;
  threshold: number;
  windowHours: number;
  /** frames of the window, every device pooled */
  frames: number;
  /** the retraining started, or null when none could start yet */
  runId: string | null;
  at: string;
}

/** The port notify/ implements to alert people through their channels; called once per alert. */
export type OnDrift = (alert: DriftAlert) => void | Promise<void>;

/**
 * Drift of model versions in the field against their evaluation snapshot (docs/monitoring.md,
 * "Drift"): histograms from the events table (drift-store.ts), PSI per statistic, and the
 * project threshold that alerts and retrains (`watch`, called by the trigger scheduler).
 */
export class DriftService {
  readonly #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** The report of a model version over the `hours` before `now`; throws KENSA_ERR_MODEL_NOT_FOUND. */
  async report(modelVersionId: string, hours: number, now = new Date()): Promise<DriftReport> {
    const projectId = await projectOfModel(this.#db, modelVersionId);
    if (!projectId) throw new KensaError("KENSA_ERR_MODEL_NOT_FOUND", `no model version with id "${modelVersionId}"`);
    const to = now.toISOString();
    const from = new Date(now.getTime() - hours * 3_600_000).toISOString();
    const [devices, ref] = await Promise.all([
      readFieldHistograms(this.#db, { projectId, modelVersionId, from, to }),
      readReference(this.#db, modelVersionId),
    ]);
    const reference = ref?.reference ?? null;
    const listed = [...devices]
      .sort((a, b) => b.frames - a.frames || (a.deviceId < b.deviceId ? -1 : 1))
      .slice(0, DRIFT_MAX_DEVICES);
    return {
      modelVersionId,
      projectId,
      window: { hours, from, to },
      reference: ref
        ? { evaluationId: ref.evaluationId, snapshotId: ref.snapshotId, samples: reference!.samples }
        : null,
      groups: [
        driftGroup(null, poolDevices(devices), reference),
        ...listed.map((d) => driftGroup(d.deviceId, d, reference)),
      ],
    };
  }
}

/** The fleet-wide statistic a threshold watches, with its PSI, or null when it has none (no reference, too few frames). */
export function watchedStatistic(
  report: DriftReport,
  statistic: NonNullable<DriftTrigger["statistic"]>,
): { statistic: DriftStatistic; frames: number } | null {
  const all = report.groups.find((g) => g.deviceId === null);
  if (!all) return null;
  const pooled = all.statistics.filter((s) => s.label === null && s.psi !== null);
  const candidates = statistic === "any" ? pooled : pooled.filter((s) => s.statistic === statistic);
  const worst = candidates.sort((a, b) => b.psi! - a.psi!)[0];
  return worst ? { statistic: worst, frames: all.frames } : null;
}

export interface DriftWatchDeps {
  db: Kysely<HubDatabase>;
  audit?: AuditLog;
  onDrift?: OnDrift;
  log?: { warn(obj: object, msg: string): void };
  /** ms between two reports of one champion (each scans its window of events); default 60 s */
  checkMs?: number;
}

/**
 * A project's drift threshold, looked at by the trigger scheduler. When the champion's watched
 * PSI over the window exceeds the threshold, it records an alert (a `drift_alerts` row and a
 * "drift.detected" audit entry) and tells `onDrift`, once per champion and window; `pending`
 * then says whether that alert still waits for its retraining (the scheduler starts it, once).
 */
export class DriftWatch {
  readonly #d: DriftWatchDeps;
  readonly #service: DriftService;
  /** per project and champion: when its report was last computed (ms) */
  readonly #checked = new Map<string, number>();

  constructor(deps: DriftWatchDeps) {
    this.#d = deps;
    this.#service = new DriftService(deps.db);
  }

  /**
   * The champion's alert of the current window still waiting for a run: the one found, or one
   * raised now because the threshold is exceeded; null when there is nothing to retrain for.
   */
  async pending(
    projectId: string,
    championId: string,
    trigger: DriftTrigger,
    now = new Date(),
  ): Promise<DriftAlert | null> {
    const windowHours = trigger.windowHours ?? DRIFT_DEFAULT_WINDOW_HOURS;
    const since = new Date(now.getTime() - windowHours * 3_600_000).toISOString();
    const earlier = await this.#d.db
      .selectFrom("drift_alerts")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("model_version_id", "=", championId)
      .where("created_at", ">", since)
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    if (earlier) {
      // once per champion and window: a started run (whatever became of it) ends the matter
      if (earlier.run_id !== null) return null;
      return {
        projectId,
        modelVersionId: championId,
        statistic: earlier.statistic as DriftAlert["statistic"],
        psi: earlier.psi,
        threshold: earlier.threshold,
        windowHours: earlier.window_hours,
        frames: 0,
        runId: null,
        at: earlier.created_at,
      };
    }
    const key = `${projectId}/${championId}`;
    if (now.getTime() - (this.#checked.get(key) ?? Number.NEGATIVE_INFINITY) < (this.#d.checkMs ?? 60_000)) return null;
    this.#checked.set(key, now.getTime());
    const report = await this.#service.report(championId, windowHours, now);
    const watched = watchedStatistic(report, trigger.statistic ?? "any");
    if (!watched || watched.statistic.psi! <= trigger.psi) return null;
    const alert: DriftAlert = {
      projectId,
      modelVersionId: championId,
      statistic: watched.statistic.statistic,
      psi: watched.statistic.psi!,
      threshold: trigger.psi,
      windowHours,
      frames: watched.frames,
      runId: null,
      at: now.toISOString(),
    };
    await this.#d.db
      .insertInto("drift_alerts")
      .values({
        id: `dft_${randomBytes(12).toString("base64url")}`,
        project_id: projectId,
        model_version_id: championId,
        statistic: alert.statistic,
        psi: alert.psi,
        threshold: alert.threshold,
        window_hours: alert.windowHours,
        run_id: null,
        created_at: alert.at,
      })
      .execute();
    await this.#d.audit?.record({
      actor: "trigger:drift",
      actorKind: "system",
      action: "drift.detected",
      target: { type: "model", id: championId },
      details: {
        projectId,
        statistic: alert.statistic,
        psi: round(alert.psi),
        threshold: alert.threshold,
        windowHours: alert.windowHours,
        frames: alert.frames,
        evaluationId: report.reference?.evaluationId ?? null,
      },
    });
    try {
      await this.#d.onDrift?.(alert);
    } catch (err) {
      // people not told is the notifier's problem to retry; the retraining still starts
      this.#d.log?.warn({ err, projectId, modelVersionId: championId }, "drift alert could not be handed over");
    }
    return alert;
  }

  /** Marks the champion's pending alert of the window as answered by `runId`. */
  async started(alert: DriftAlert, runId: string): Promise<void> {
    await this.#d.db
      .updateTable("drift_alerts")
      .set({ run_id: runId })
      .where("project_id", "=", alert.projectId)
      .where("model_version_id", "=", alert.modelVersionId)
      .where("created_at", "=", alert.at)
      .where("run_id", "is", null)
      .execute();
  }
}

/** PSI as people read it: three decimals. */
export function round(psi: number): number {
  return Math.round(psi * 1000) / 1000;
}
