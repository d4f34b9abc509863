import type { Kysely } from "kysely";

/**
 * Site hub ⇄ central hub (issue #18, docs/operations.md "Multi-site").
 *
 * On a central hub: `sites` (a token digest like worker and API tokens; the token itself is
 * shown once), and two nullable columns on `incidents` naming the site and the site's own
 * incident id. Their unique index is what makes a resent batch store nothing twice: a site
 * retries after a cut without knowing what arrived. NULLs do not collide in a unique index on
 * SQLite or PostgreSQL, so central's own incidents are unaffected. Verdicts from a site keep the
 * site's verdict id as their primary key (ids are 96 random bits), which makes them idempotent
 * the same way.
 *
 * On a site hub: `federation_cursors` (where each upstream and downstream stream stopped, so
 * a restart or a cut resumes there) and `federation_models` (which local model version holds
 * which central model version, so a model is registered once however often it is offered).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("sites")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("projects", "text", (c) => c.notNull())
    .addColumn("token_sha256", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("last_seen_at", "text")
    .addColumn("fleet", "text")
    .execute();
  await db.schema.alterTable("incidents").addColumn("site_id", "text").execute();
  await db.schema.alterTable("incidents").addColumn("site_incident_id", "text").execute();
  await db.schema
    .createIndex("incidents_site_incident")
    .on("incidents")
    .columns(["site_id", "site_incident_id"])
    .unique()
    .execute();
  await db.schema
    .createTable("federation_cursors")
    .addColumn("stream", "text", (c) => c.primaryKey())
    .addColumn("cursor", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("federation_models")
    .addColumn("central_model_id", "text", (c) => c.primaryKey())
    .addColumn("model_version_id", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
}
