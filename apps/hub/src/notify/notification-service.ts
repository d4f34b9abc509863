import { channelsFor, type Incident, type Notification, type SmsRecipient, severityOf } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { HubDatabase, NotificationsTable } from "../db/schema.js";
import { newId } from "../ids.js";
import type { ProjectRecord } from "../projects/project-service.js";
import { mailAndWebhookTargets } from "./notifier.js";

import { planSms, type SmsPlan } from "./sms-planner.js";

export type Channel = Notification["channel"];

/** Decides who hears about an incident; the dispatcher does the sending. */
export class NotificationService {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /**
   * One row per e-mail recipient, webhook and SMS recipient of the channels the project's
   * routes give this incident. A target that was notified (not suppressed) less than
   * `cooldownSec` ago gets a "suppressed" row instead, so the record shows what was held back;
   * SMS rows are further rate-limited and held in quiet hours (sms-planner.ts). Runs inside the
   * incident's transaction.
   */
  async planFor(trx: Kysely<HubDatabase>, incident: Incident, project: ProjectRecord, now: string): Promise<number> {
    const routing = project.notifications;
    const channels = channelsFor(incident, routing);
    const targets: Array<{ channel: Channel; target: string; recipient?: SmsRecipient }> = [
      ...mailAndWebhookTargets(routing),
      ...(routing.sms?.recipients ?? []).map((r) => ({ channel: "sms" as const, target: r.phone, recipient: r })),
    ].filter((t) => channels.has(t.channel));
    const cooldownMs = routing.cooldownSec * 1000;
    for (const { channel, target, recipient } of targets) {
      let suppressed = false;
      if (cooldownMs > 0) {
        const last = await trx
          .selectFrom("notifications")
          .select("created_at")
          .where("project_id", "=", project.id)
          .where("channel", "=", channel)
          .where("target", "=", target)
          .where("status", "!=", "suppressed")
          .orderBy("created_at", "desc")
          .limit(1)
          .executeTakeFirst();
        suppressed = !!last && Date.parse(now) - Date.parse(last.created_at) < cooldownMs;
      }
      const plan: SmsPlan = suppressed
        ? { status: "suppressed", nextAttemptAt: null, note: null }
        : recipient
          ? await planSms(trx, severityOf(incident, routing), routing, recipient, now)
          : { status: "pending", nextAttemptAt: now, note: null };
      await trx
        .insertInto("notifications")
        .values({
          id: newId("ntf"),
          incident_id: incident.id,
          project_id: project.id,
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
    return targets.length;
  }

  async list(query: { incidentId?: string; limit?: number } = {}): Promise<Notification[]> {
    let q = this.#db
      .selectFrom("notifications")
      .selectAll()
      .orderBy("created_at", "desc")
      .limit(query.limit ?? 100);
    if (query.incidentId) q = q.where("incident_id", "=", query.incidentId);
    return (await q.execute()).map(toNotification);
  }
}

export function toNotification(row: Selectable<NotificationsTable>): Notification {
  return {
    id: row.id,
    incidentId: row.incident_id,
    channel: row.channel as Channel,
    target: row.target,
    status: row.status as Notification["status"],
    attempts: Number(row.attempts),
    lastError: row.last_error,
    createdAt: row.created_at,
    sentAt: row.sent_at,
  };
}
