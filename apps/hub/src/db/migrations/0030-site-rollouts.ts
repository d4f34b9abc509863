import type { Kysely } from "kysely";

/**
 * Site rollouts (issue #18, docs/operations.md "Multi-site", docs/rollouts.md "Across sites").
 *
 * On a central hub: `site_rollouts`, a staged rollout an operator asked a site to run, with the
 * state the site last reported (`report`, JSON, replaced only by a report of a later
 * `reported_at`). Served to the site in (created_at, id) order behind its cursor.
 *
 * On a site hub: `federation_rollouts`, which local rollout runs which central site rollout
 * (or why the site could not create it). Its primary key is what makes a site rollout pulled
 * twice (a lost cursor write after a cut) create one local rollout; it commits with the rollout.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("site_rollouts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("site_id", "text", (c) => c.notNull())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("model_version_id", "text", (c) => c.notNull())
    .addColumn("request", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("report", "text")
    .addColumn("reported_at", "text")
    .addColumn("received_at", "text")
    .execute();
  await db.schema
    .createIndex("site_rollouts_site_created")
    .on("site_rollouts")
    .columns(["site_id", "created_at", "id"])
    .execute();
  await db.schema
    .createTable("federation_rollouts")
    .addColumn("central_rollout_id", "text", (c) => c.primaryKey())
    .addColumn("rollout_id", "text")
    .addColumn("error", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("federation_rollouts_rollout").on("federation_rollouts").column("rollout_id").execute();
}
