import type { Kysely } from "kysely";

/**
 * Backtests: a candidate model replayed on a project's archived frames. The report (counts per
 * day and device, skipped frames) and the per-frame rows are JSON text written once when the job
 * ends; a backtest is bounded (at most 10,000 frames), so one row holds it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("backtests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
    .addColumn("model_version_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("request", "text", (c) => c.notNull())
    .addColumn("job_id", "text")
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("finished_at", "text")
    .addColumn("error", "text")
    .addColumn("report", "text")
    .addColumn("frames", "text")
    .execute();
  // a project's backtests, newest first (the list route, the CLI)
  await db.schema
    .createIndex("backtests_project_created")
    .on("backtests")
    .columns(["project_id", "created_at"])
    .execute();
}
