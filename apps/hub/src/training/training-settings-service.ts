import {
  type Champion,
  type GateMetric,
  KensaError,
  parseWith,
  type Task,
  TrainingSettings,
  type UpdateTrainingSettings,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { SnapshotService } from "../datasets/snapshot-service.js";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import { CronSchedule } from "./cron-schedule.js";

/** The gate's primary metric when a project has not chosen one. */
export const defaultPrimaryMetric: Record<Task, GateMetric> = {
  classification: "accuracy",
  segmentation: "miou",
  detection: "map50",
  anomaly: "auroc",
};

/**
 * Per-project training settings (run defaults, triggers, gate criteria, auto-deploy targets,
 * evaluation snapshot) and the project's champion pointer. A project without a row has the
 * defaults; the row is written on the first update or champion.
 */
export class TrainingSettingsService {
  #db: Kysely<HubDatabase>;
  #projects: ProjectService;
  #snapshots: SnapshotService;

  constructor(db: Kysely<HubDatabase>, projects: ProjectService, snapshots: SnapshotService) {
    this.#db = db;
    this.#projects = projects;
    this.#snapshots = snapshots;
  }

  async get(projectId: string, db: Kysely<HubDatabase> = this.#db): Promise<TrainingSettings> {
    const project = await this.#projects.get(projectId, db);
    const row = await db
      .selectFrom("training_settings")
      .select("settings")
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    return row ? (JSON.parse(row.settings) as TrainingSettings) : defaults(project.task);
  }

  async update(projectId: string, patch: UpdateTrainingSettings): Promise<TrainingSettings> {
    const cur = await this.get(projectId);
    const next = parseWith(
      TrainingSettings,
      {
        gate: { ...cur.gate, ...(patch.gate ?? {}) },
        triggers: { ...cur.triggers, ...(patch.triggers ?? {}) },
        autoDeploy:
          patch.autoDeploy === undefined
            ? cur.autoDeploy
            : patch.autoDeploy && { tags: [], deviceIds: [], pipeline: "default", ...patch.autoDeploy },
        evaluationSnapshotId:
          patch.evaluationSnapshotId === undefined ? cur.evaluationSnapshotId : patch.evaluationSnapshotId,
        defaults: { ...cur.defaults, ...(patch.defaults ?? {}) },
      },
      "KENSA_ERR_VALIDATION",
      "training settings",
    );
    if (next.triggers.cron) CronSchedule.parse(next.triggers.cron);
    if (next.evaluationSnapshotId) {
      const snap = await this.#snapshots.get(next.evaluationSnapshotId);
      if (snap.projectId !== projectId) {
        throw new KensaError(
          "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH",
          `snapshot ${snap.id} belongs to project ${snap.projectId}, not ${projectId}`,
        );
      }
    }
    const now = isoNow();
    const cronChanged = next.triggers.cron !== cur.triggers.cron;
    await this.#ensureRow(this.#db, projectId, now);
    await this.#db
      .updateTable("training_settings")
      .set({
        settings: JSON.stringify(next),
        updated_at: now,
        // a new schedule starts counting now, never fires for minutes before it existed
        ...(cronChanged ? { cron_checked_at: now } : {}),
      })
      .where("project_id", "=", projectId)
      .execute();
    return next;
  }

  async champion(projectId: string, db: Kysely<HubDatabase> = this.#db): Promise<Champion> {
    const row = await db
      .selectFrom("training_settings")
      .select(["champion_id", "champion_since"])
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    return { projectId, modelVersionId: row?.champion_id ?? null, since: row?.champion_since ?? null };
  }

  async setChampion(trx: Kysely<HubDatabase>, projectId: string, modelVersionId: string | null): Promise<void> {
    const now = isoNow();
    await this.#ensureRow(trx, projectId, now);
    await trx
      .updateTable("training_settings")
      .set({ champion_id: modelVersionId, champion_since: modelVersionId ? now : null })
      .where("project_id", "=", projectId)
      .execute();
  }

  /** projects with a label, cron or trainer-revision trigger, for the trigger scheduler */
  async withTriggers(): Promise<
    Array<{ projectId: string; settings: TrainingSettings; cronCheckedAt: string | null }>
  > {
    const rows = await this.#db
      .selectFrom("training_settings")
      .select(["project_id", "settings", "cron_checked_at"])
      .execute();
    return rows
      .map((r) => ({
        projectId: r.project_id,
        settings: JSON.parse(r.settings) as TrainingSettings,
        cronCheckedAt: r.cron_checked_at,
      }))
      .filter(
        (r) =>
          r.settings.triggers.newLabels !== null ||
          r.settings.triggers.cron !== null ||
          r.settings.triggers.trainerRevision === true ||
          Boolean(r.settings.triggers.drift),
      );
  }

  async setCronCheckedAt(projectId: string, at: string): Promise<void> {
    await this.#db
      .updateTable("training_settings")
      .set({ cron_checked_at: at })
      .where("project_id", "=", projectId)
      .execute();
  }

  async #ensureRow(db: Kysely<HubDatabase>, projectId: string, now: string): Promise<void> {
    const project = await this.#projects.get(projectId, db);
    await db
      .insertInto("training_settings")
      .values({
        project_id: projectId,
        settings: JSON.stringify(defaults(project.task)),
        champion_id: null,
        champion_since: null,
        cron_checked_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("project_id").doNothing())
      .execute();
  }
}

export function defaults(task: Task): TrainingSettings {
  return parseWith(TrainingSettings, { gate: { primaryMetric: defaultPrimaryMetric[task] } });
}
