import type { Kysely } from "kysely";

/**
 * Commands central sends to a site rollout (issue #18, docs/rollouts.md "Across sites").
 *
 * On a central hub: `site_rollout_commands`, a pause, resume or rollback an operator sent to a
 * site rollout (who, when, why), with the site's answer (`state`: pending, applied, refused).
 * Served to the site in (created_at, id) order behind its cursor.
 *
 * On a site hub: `federation_rollout_commands`, what the site did with each command. Its primary
 * key makes a command pulled twice act once; it is pushed back in (answered_at, command id) order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("site_rollout_commands")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("site_id", "text", (c) => c.notNull())
    .addColumn("site_rollout_id", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("rollout_state", "text")
    .addColumn("error", "text")
    .addColumn("answered_at", "text")
    .execute();
  await db.schema
    .createIndex("site_rollout_commands_site_created")
    .on("site_rollout_commands")
    .columns(["site_id", "created_at", "id"])
    .execute();
  await db.schema
    .createTable("federation_rollout_commands")
    .addColumn("command_id", "text", (c) => c.primaryKey())
    .addColumn("central_rollout_id", "text", (c) => c.notNull())
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("rollout_state", "text")
    .addColumn("error", "text")
    .addColumn("answered_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("federation_rollout_commands_answered")
    .on("federation_rollout_commands")
    .columns(["answered_at", "command_id"])
    .execute();
}
