import type { Kysely } from "kysely";

/**
 * Staged rollouts (docs/rollouts.md): one row per rollout, its waves, gates' latest evidence and
 * history as JSON (read and written whole, under the rollout service's queue), and what each
 * device ran before it so a breach can send it back. Deployments get a role: a shadow runs
 * beside the pipeline's bundle.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("role", "text").execute();
  await db.schema
    .createTable("rollouts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("model_version_id", "text", (c) => c.notNull())
    .addColumn("champion_model_version_id", "text")
    .addColumn("pipeline", "text", (c) => c.notNull())
    .addColumn("mode", "text", (c) => c.notNull())
    .addColumn("precision", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("strategy", "text", (c) => c.notNull())
    .addColumn("gates", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("current_wave", "integer", (c) => c.notNull())
    .addColumn("waves", "text", (c) => c.notNull())
    .addColumn("previous", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("history", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("rollouts_project_created")
    .on("rollouts")
    .columns(["project_id", "created_at"])
    .execute();
  await db.schema.createIndex("rollouts_state").on("rollouts").column("state").execute();
}
