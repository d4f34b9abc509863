import type { Kysely } from "kysely";

/** Model lineage, the job queue, training runs, evaluations, gate reports, approvals and training settings. */
export async function up(db: Kysely<unknown>): Promise<void> {
  // lineage and the int8 variant on model versions (uploads leave them null)
  await db.schema.alterTable("model_versions").addColumn("run_id", "text").execute();
  await db.schema.alterTable("model_versions").addColumn("snapshot_id", "text").execute();
  await db.schema.alterTable("model_versions").addColumn("lineage", "text").execute();
  await db.schema.alterTable("model_versions").addColumn("int8_sha256", "text").execute();

  // the persistent queue every long job goes through: training, evaluation, gate
  await db.schema
    .createTable("jobs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("ref_id", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("claimed_by", "text")
    .addColumn("error", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("finished_at", "text")
    .execute();
  await db.schema.createIndex("jobs_status_created").on("jobs").columns(["status", "created_at"]).execute();
  await db.schema.createIndex("jobs_ref").on("jobs").column("ref_id").execute();

  await db.schema
    .createTable("training_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
    .addColumn("snapshot_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("trigger_type", "text", (c) => c.notNull())
    .addColumn("trigger_detail", "text", (c) => c.notNull())
    .addColumn("params", "text", (c) => c.notNull())
    .addColumn("trainer_name", "text", (c) => c.notNull())
    .addColumn("trainer_version", "text")
    .addColumn("code_revision", "text", (c) => c.notNull())
    .addColumn("progress", "text")
    .addColumn("data", "text")
    .addColumn("trainer_metrics", "text")
    .addColumn("error", "text")
    .addColumn("exit_code", "integer")
    .addColumn("model_version_id", "text")
    .addColumn("log_sha256", "text")
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("finished_at", "text")
    .execute();
  await db.schema
    .createIndex("training_runs_project")
    .on("training_runs")
    .columns(["project_id", "created_at"])
    .execute();

  // one evaluation per (model version, snapshot): asking again returns the stored one
  await db.schema
    .createTable("evaluations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("model_version_id", "text", (c) => c.notNull().references("model_versions.id"))
    .addColumn("snapshot_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("metrics", "text")
    .addColumn("error", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text")
    .addUniqueConstraint("evaluations_model_snapshot", ["model_version_id", "snapshot_id"])
    .execute();

  await db.schema
    .createTable("gate_reports")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("model_version_id", "text", (c) => c.notNull().references("model_versions.id"))
    .addColumn("champion_id", "text")
    .addColumn("snapshot_id", "text", (c) => c.notNull())
    .addColumn("criteria", "text", (c) => c.notNull())
    .addColumn("results", "text", (c) => c.notNull())
    .addColumn("decision", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("deployment_id", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("gate_reports_model")
    .on("gate_reports")
    .columns(["model_version_id", "created_at"])
    .execute();

  await db.schema
    .createTable("approvals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("model_version_id", "text", (c) => c.notNull().references("model_versions.id"))
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("decided_by", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("from_stage", "text", (c) => c.notNull())
    .addColumn("to_stage", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("approvals_model").on("approvals").column("model_version_id").execute();

  // per-project settings and the champion pointer (null until a version is approved)
  await db.schema
    .createTable("training_settings")
    .addColumn("project_id", "text", (c) => c.primaryKey().references("projects.id"))
    .addColumn("settings", "text", (c) => c.notNull())
    .addColumn("champion_id", "text")
    .addColumn("champion_since", "text")
    .addColumn("cron_checked_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
}
