import type { Notification } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { ModelNotificationsTable } from "../db/schema/model-notifications.js";
import type { HubDatabase } from "../db/schema.js";
import type { DriftAlert, OnDrift } from "../drift/drift-service.js";
import type { ModelLookup } from "../fleet/ports.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import type { ProjectRecord, ProjectService } from "../projects/project-service.js";
import { type DriftNotice, driftNoticeOf } from "./drift-messages.js";
import { mailAndWebhookTargets } from "./notifier.js";
import type { ModelName } from "./rollout-messages.js";

/** One drift alert to one target, as recorded. */
export interface DriftNotification {
  id: string;
  modelVersionId: string;
  kind: "drift";
  channel: Notification["channel"];
  target: string;
  status: Notification["status"];
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

/**
 * Decides who hears that a project's champion drifted past its threshold, and records one row
 * per target for the dispatcher: every e-mail recipient and webhook of the project. No SMS:
 * drift builds up over a window of hours, nothing stops, and the trigger may already be
 * retraining, so it can wait for the inbox (project routing has no setting that asks otherwise:
 * its `routes` filter incidents by severity, label and rule, which a drift alert has none of).
 * The incident cooldown does not apply either: the drift watch raises at most one alert per
 * champion and window.
 */
export class DriftNotificationService {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** Records the rows for one alert, in one transaction; the number of targets. */
  async plan(alert: DriftAlert, project: ProjectRecord, model: ModelName | null): Promise<number> {
    const routing = project.notifications;
    const targets = mailAndWebhookTargets(routing);
    if (targets.length === 0) return 0;
    await this.#db.transaction().execute(async (trx) => {
      // the drift watch stored this row just before handing the alert over (drift-service.ts)
      const row = await trx
        .selectFrom("drift_alerts")
        .select("id")
        .where("project_id", "=", alert.projectId)
        .where("model_version_id", "=", alert.modelVersionId)
        .where("created_at", "=", alert.at)
        .executeTakeFirst();
      const notice = driftNoticeOf(alert, model, row?.id ?? null);
      const now = isoNow();
      for (const { channel, target } of targets) {
        await trx
          .insertInto("model_notifications")
          .values({
            id: newId("ntf"),
            model_version_id: alert.modelVersionId,
            project_id: project.id,
            kind: notice.kind,
            alert: JSON.stringify(notice),
            channel,
            target,
            status: "pending",
            attempts: 0,
            last_error: null,
            next_attempt_at: now,
            created_at: now,
            sent_at: null,
            claimed_by: null,
          })
          .execute();
      }
    });
    return targets.length;
  }

  /** A model version's drift alerts (or every version's), newest first. */
  async list(query: { modelVersionId?: string; limit?: number } = {}): Promise<DriftNotification[]> {
    let q = this.#db
      .selectFrom("model_notifications")
      .selectAll()
      .where("kind", "=", "drift")
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(query.limit ?? 100);
    if (query.modelVersionId) q = q.where("model_version_id", "=", query.modelVersionId);
    return (await q.execute()).map(toDriftNotification);
  }
}

export function toDriftNotification(row: Selectable<ModelNotificationsTable>): DriftNotification {
  return {
    id: row.id,
    modelVersionId: row.model_version_id,
    kind: "drift",
    channel: row.channel as Notification["channel"],
    target: row.target,
    status: row.status as Notification["status"],
    attempts: Number(row.attempts),
    lastError: row.last_error,
    createdAt: row.created_at,
    sentAt: row.sent_at,
  };
}

/** The notice stored with a row. */
export const driftNoticeOfRow = (row: Pick<ModelNotificationsTable, "alert">) => JSON.parse(row.alert) as DriftNotice;

/**
 * The drift watch's `onDrift` port on the notification queue: each alert becomes durable rows
 * (retried, recorded, sent by whichever replica's dispatcher claims them) committed before this
 * returns, since the watch never hands an alert over twice. Then this replica's dispatcher is
 * woken; if it cannot be (not created or not started yet), the rows wait for its start, which
 * sends whatever is due. A failure to record rejects; the watch logs it and still retrains.
 */
export function driftAlertsOf(deps: {
  db: Kysely<HubDatabase>;
  projects: Pick<ProjectService, "get">;
  /** read for the model's name and version; a version it does not know is shown by its id */
  models?: ModelLookup;
  /** the dispatcher, woken to send what was just planned */
  dispatcher: { kick(): void };
  log?: Logger;
}): OnDrift {
  const service = new DriftNotificationService(deps.db);
  return async (alert) => {
    const project = await deps.projects.get(alert.projectId);
    // a name is a courtesy: the registry's answer never holds back the alert
    const m = deps.models ? await deps.models.get(alert.modelVersionId).catch(() => null) : null;
    const n = await service.plan(alert, project, m ? { name: m.name, version: m.version } : null);
    deps.log?.info({ modelVersionId: alert.modelVersionId, psi: alert.psi, targets: n }, "drift alert planned");
    if (n === 0) return;
    try {
      deps.dispatcher.kick();
    } catch (err) {
      // stored already: the dispatcher's start (or another replica's next look) sends it
      deps.log?.warn({ err: (err as Error).message }, "drift alert stored; the dispatcher could not be woken yet");
    }
  };
}
