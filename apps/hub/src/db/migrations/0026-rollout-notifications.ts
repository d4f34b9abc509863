import type { Kysely } from "kysely";

/**
 * Rollout alerts (issue #14): one row per person or webhook told that a rollout paused, rolled
 * back, completed or was aborted, sent by the same dispatcher as incident notifications and with
 * the same queue columns (status, attempts, next attempt, claim).
 *
 * A table of their own rather than a subject column on `notifications`: there `incident_id` is
 * NOT NULL and references `incidents`, and SQLite cannot drop a NOT NULL or a foreign key in
 * place — it would mean rebuilding the table (copy, drop, rename) under hubs that may be sending
 * from it, which no earlier migration has done. Every reader of `notifications` (the incident
 * API's `incidentId`, cooldowns, stats) would also have to learn to skip rows about rollouts.
 * `alert` keeps what the message says as it was at the transition (the rollout moves on), so a
 * retry an hour later still tells what happened then.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rollout_notifications")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("rollout_id", "text", (c) => c.notNull().references("rollouts.id"))
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("alert", "text", (c) => c.notNull())
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("last_error", "text")
    .addColumn("next_attempt_at", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("sent_at", "text")
    .addColumn("claimed_by", "text")
    .execute();
  await db.schema
    .createIndex("rollout_notifications_status")
    .on("rollout_notifications")
    .columns(["status", "next_attempt_at"])
    .execute();
  await db.schema
    .createIndex("rollout_notifications_rollout")
    .on("rollout_notifications")
    .columns(["rollout_id", "created_at"])
    .execute();
  // SMS rate limits and quiet-hour holds look rows up by phone number
  await db.schema
    .createIndex("rollout_notifications_target")
    .on("rollout_notifications")
    .columns(["channel", "target", "created_at"])
    .execute();
}
