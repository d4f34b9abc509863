import type { Kysely } from "kysely";

/**
 * Drift (issue #14, field monitoring). Four nullable columns on `events`, filled at ingest from
 * the event: the input statistics agents send (`input.luma`, `input.contrast`; null from agents
 * before them) and the result's headline label and score (null when the frame shows nothing).
 * Columns rather than parsing `result` JSON at query time: the drift histograms then group
 * plain numbers in SQL. No index: the window is read through `events_project_received` (the
 * model's project, stored time), and every index on `events` is paid by each insert
 * (migrations 0009, 0011). Adding nullable columns rewrites no row on SQLite or PostgreSQL.
 *
 * `drift_alerts`: each time the champion of a project with a drift threshold went over it,
 * once per champion and window, and the run it started (null until one could start).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("events").addColumn("input_luma", "double precision").execute();
  await db.schema.alterTable("events").addColumn("input_contrast", "double precision").execute();
  await db.schema.alterTable("events").addColumn("headline_label", "text").execute();
  await db.schema.alterTable("events").addColumn("headline_score", "double precision").execute();
  await db.schema
    .createTable("drift_alerts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("model_version_id", "text", (c) => c.notNull())
    .addColumn("statistic", "text", (c) => c.notNull())
    .addColumn("psi", "double precision", (c) => c.notNull())
    .addColumn("threshold", "double precision", (c) => c.notNull())
    .addColumn("window_hours", "integer", (c) => c.notNull())
    .addColumn("run_id", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("drift_alerts_project_model")
    .on("drift_alerts")
    .columns(["project_id", "model_version_id", "created_at"])
    .execute();
}
