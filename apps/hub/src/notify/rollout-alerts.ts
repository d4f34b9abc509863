import type { Notification } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { RolloutNotificationsTable } from "../db/schema/rollout-notifications.js";
import type { HubDatabase } from "../db/schema.js";
import type { ModelLookup } from "../fleet/ports.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import type { ProjectRecord, ProjectService } from "../projects/project-service.js";
import type { RolloutAlert, RolloutAlerts } from "../rollouts/rollout-service.js";
import { mailAndWebhookTargets } from "./notifier.js";
import {
  type ModelName,
  noticeOf,
  ROLLOUT_SMS_SEVERITY,
  type RolloutAlertKind,
  type RolloutNotice,
  SMS_KINDS,
} from "./rollout-messages.js";
import { planSms, type SmsPlan } from "./sms-planner.js";

/** One rollout alert to one target, as recorded. */
export interface RolloutNotification {
  id: string;
  rolloutId: string;
  kind: RolloutAlertKind;
  channel: Notification["channel"];
  target: string;
  status: Notification["status"];
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

/**
 * Decides who hears that a rollout paused, rolled back, completed or was aborted, and records
 * one row per target for the dispatcher: every e-mail recipient and webhook of the project, and
 * its SMS recipients for `paused` and `rolled_back` only (the rollout stopped; a completion or a
 * person's abort can wait for the inbox). SMS keep the hourly limit and quiet hours (severity
 * ROLLOUT_SMS_SEVERITY). The incident cooldown does not apply: transitions are few and each one
 * changes what devices run. Project routes filter incidents by severity and label, which a
 * rollout has neither of, so they do not apply either.
 */
export class RolloutNotificationService {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** Records the rows for one alert; the number of targets. */
  async plan(alert: RolloutAlert, project: ProjectRecord, names: ReadonlyMap<string, ModelName>): Promise<number> {
    const routing = project.notifications;
    const notice = noticeOf(alert, names);
    const sms = SMS_KINDS.has(alert.kind) ? (routing.sms?.recipients ?? []) : [];
    const targets = [
      ...mailAndWebhookTargets(routing).map((t) => ({ ...t, recipient: undefined })),
      ...sms.map((r) => ({ channel: "sms" as const, target: r.phone, recipient: r })),
    ];
    if (targets.length === 0) return 0;
    await this.#db.transaction().execute(async (trx) => {
      const now = isoNow();
      for (const { channel, target, recipient } of targets) {
        const plan: SmsPlan = recipient
          ? await planSms(trx, ROLLOUT_SMS_SEVERITY, routing, recipient, now, "rollout_notifications")
          : { status: "pending", nextAttemptAt: now, note: null };
        await trx
          .insertInto("rollout_notifications")
          .values({
            id: newId("ntf"),
            rollout_id: notice.rolloutId,
            project_id: project.id,
            kind: alert.kind,
            alert: JSON.stringify(notice),
            channel,
            target,
            status: plan.status,
            attempts: 0,
            last_error: plan.note,
            next_attempt_at: plan.nextAttemptAt,
            created_at: now,
            sent_at: null,
            claimed_by: null,
          })
          .execute();
      }
    });
    return targets.length;
  }

  /** A rollout's alerts (or every rollout's), newest first. */
  async list(query: { rolloutId?: string; limit?: number } = {}): Promise<RolloutNotification[]> {
    let q = this.#db
      .selectFrom("rollout_notifications")
      .selectAll()
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(query.limit ?? 100);
    if (query.rolloutId) q = q.where("rollout_id", "=", query.rolloutId);
    return (await q.execute()).map(toRolloutNotification);
  }
}

export function toRolloutNotification(row: Selectable<RolloutNotificationsTable>): RolloutNotification {
  return {
    id: row.id,
    rolloutId: row.rollout_id,
    kind: row.kind as RolloutAlertKind,
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
export const noticeOfRow = (row: Pick<RolloutNotificationsTable, "alert">) => JSON.parse(row.alert) as RolloutNotice;

/**
 * The rollout service's `alerts` port on the notification queue: each alert becomes durable
 * rows (retried, recorded, sent by whichever replica's dispatcher claims them), and this
 * replica's dispatcher is woken at once. Model versions are named in the message when `models`
 * knows them. A failure here rejects; the rollout service logs it and keeps the transition.
 */
export function rolloutAlertsOf(deps: {
  db: Kysely<HubDatabase>;
  projects: Pick<ProjectService, "get">;
  /** the dispatcher, woken to send what was just planned */
  dispatcher: { kick(): void };
  models?: ModelLookup;
  log?: Logger;
}): RolloutAlerts {
  const service = new RolloutNotificationService(deps.db);
  return async (alert) => {
    const project = await deps.projects.get(alert.rollout.projectId);
    const names = new Map<string, ModelName>();
    for (const id of [alert.rollout.modelVersionId, alert.rollout.championModelVersionId]) {
      if (!id || !deps.models) continue;
      // a name is a courtesy: a version the registry no longer has is shown by its id
      const m = await deps.models.get(id).catch(() => null);
      if (m) names.set(id, { name: m.name, version: m.version });
    }
    const n = await service.plan(alert, project, names);
    deps.log?.info({ rolloutId: alert.rollout.id, kind: alert.kind, targets: n }, "rollout alert planned");
    if (n > 0) deps.dispatcher.kick();
  };
}
