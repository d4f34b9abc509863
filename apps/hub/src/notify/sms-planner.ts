import type { NotificationRouting, Severity, SmsRecipient } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { type QueueTable, queueDb } from "./queue-tables.js";
import { quietUntil } from "./quiet-hours.js";
import { countSms } from "./sms-metrics.js";

const HOUR_MS = 3_600_000;

/** How an SMS row starts: pending now, pending until quiet hours end, or suppressed, and why. */
export interface SmsPlan {
  status: "pending" | "suppressed";
  nextAttemptAt: string | null;
  note: string | null;
}

/**
 * Decides one recipient's SMS about an incident (or a rollout, `table` rollout_notifications),
 * inside the transaction that records it.
 *
 * Rate limit: at most `maxPerHour` SMS rows (pending, sent or failed) for this phone number
 * created in the rolling hour before `now`, over all projects and both tables, as it is one
 * person's phone; further ones are recorded as suppressed (e-mail and webhooks still carry them).
 *
 * Quiet hours (the recipient's, else the channel's): a message whose severity is not in
 * `override` is deferred to the end of the window; while one SMS of the same table already
 * waits for that end, further ones are recorded as suppressed, so a night of incidents wakes no
 * one and leaves one message in the morning (and a night's rollout alerts one more).
 */
export async function planSms(
  trx: Kysely<HubDatabase>,
  severity: Severity,
  routing: NotificationRouting,
  recipient: SmsRecipient,
  now: string,
  table: QueueTable = "notifications",
): Promise<SmsPlan> {
  const q = queueDb(trx);
  const sms = routing.sms;
  if (!sms) return { status: "suppressed", nextAttemptAt: null, note: "no SMS routing" };
  if (sms.maxPerHour > 0) {
    const since = new Date(Date.parse(now) - HOUR_MS).toISOString();
    let n = 0;
    for (const t of ["notifications", "rollout_notifications"] as const) {
      const row = await q
        .selectFrom(t)
        .select((eb) => eb.fn.countAll().as("n"))
        .where("channel", "=", "sms")
        .where("target", "=", recipient.phone)
        .where("status", "in", ["pending", "sent", "failed"])
        .where("created_at", ">", since)
        .executeTakeFirst();
      n += Number(row?.n ?? 0);
    }
    if (n >= sms.maxPerHour) {
      countSms("rate_limited");
      return {
        status: "suppressed",
        nextAttemptAt: null,
        note: `rate limit: ${n} SMS to ${recipient.phone} within the last hour (maxPerHour ${sms.maxPerHour})`,
      };
    }
  }
  const quiet = recipient.quietHours ?? sms.quietHours;
  if (quiet && !quiet.override.includes(severity)) {
    const until = quietUntil(now, quiet);
    if (until) {
      const waiting = await q
        .selectFrom(table)
        .select("id")
        .where("channel", "=", "sms")
        .where("target", "=", recipient.phone)
        .where("status", "=", "pending")
        .where("next_attempt_at", ">", now)
        .limit(1)
        .executeTakeFirst();
      if (waiting) {
        countSms("quiet_suppressed");
        return {
          status: "suppressed",
          nextAttemptAt: null,
          note: `quiet hours: ${waiting.id} already waits to reach ${recipient.phone}`,
        };
      }
      countSms("deferred");
      return { status: "pending", nextAttemptAt: until, note: `quiet hours: deferred until ${until}` };
    }
  }
  return { status: "pending", nextAttemptAt: now, note: null };
}
