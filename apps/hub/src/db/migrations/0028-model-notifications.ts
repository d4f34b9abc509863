import type { Kysely } from "kysely";

/**
 * Alerts about a model version in the field (issue #14 part 6; `kind` is `drift` for now): one
 * row per person or webhook told that a project's champion drifted past its threshold, sent by
 * the same dispatcher as incident notifications and rollout alerts, with the same queue columns.
 *
 * A new table rather than widening `rollout_notifications` with a subject column: there
 * `rollout_id` is NOT NULL and references `rollouts`, and SQLite cannot drop either in place —
 * it would mean rebuilding the table (copy, drop, rename) under hubs that may be sending from it,
 * and every reader of rollout alerts would have to learn to skip rows without a rollout. Adding a
 * table rewrites nothing. No foreign key on `model_version_id`: a record of who was told must
 * not stop the registry from ever removing a version. `alert` keeps what the message says as it
 * was when the drift was found (the champion moves on), so a retry still tells what happened then.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("model_notifications")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("model_version_id", "text", (c) => c.notNull())
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
    .createIndex("model_notifications_status")
    .on("model_notifications")
    .columns(["status", "next_attempt_at"])
    .execute();
  await db.schema
    .createIndex("model_notifications_model")
    .on("model_notifications")
    .columns(["model_version_id", "created_at"])
    .execute();
}
