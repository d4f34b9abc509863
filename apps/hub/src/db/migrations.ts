import type { Kysely, Migration, MigrationProvider } from "kysely";
import { peopleMigration } from "./people-migration.js";

/**
 * Append-only: a released migration is never edited, a change is a new entry. Names sort in
 * the order they run. Column types are ones SQLite and PostgreSQL both accept.
 */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("projects")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("slug", "text", (c) => c.notNull().unique())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("task", "text", (c) => c.notNull())
        .addColumn("labels", "text", (c) => c.notNull())
        .addColumn("ok_labels", "text", (c) => c.notNull())
        .addColumn("rule", "text", (c) => c.notNull())
        .addColumn("notifications", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("devices")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("arch", "text")
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("secret_hash", "text", (c) => c.notNull())
        .addColumn("secret_salt", "text", (c) => c.notNull())
        .addColumn("presence", "text", (c) => c.notNull())
        .addColumn("last_seen_at", "text")
        .addColumn("reported", "text")
        .addColumn("telemetry", "text")
        .addColumn("desired", "text")
        .addColumn("desired_rev", "integer", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("devices_project").on("devices").column("project_id").execute();

      await db.schema
        .createTable("model_versions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("manifest", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addUniqueConstraint("model_versions_project_version", ["project_id", "version"])
        .execute();

      await db.schema
        .createTable("bundles")
        .addColumn("sha256", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull())
        .addColumn("model_version_id", "text", (c) => c.notNull().references("model_versions.id"))
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("deployments")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull())
        .addColumn("model_version_id", "text", (c) => c.notNull().references("model_versions.id"))
        .addColumn("bundle_sha256", "text", (c) => c.notNull())
        .addColumn("pipeline", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("device_ids", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("deployments_project")
        .on("deployments")
        .columns(["project_id", "created_at"])
        .execute();

      await db.schema
        .createTable("events")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("project_id", "text", (c) => c.notNull())
        .addColumn("pipeline", "text", (c) => c.notNull())
        .addColumn("source_id", "text", (c) => c.notNull())
        .addColumn("ts", "text", (c) => c.notNull())
        .addColumn("received_at", "text", (c) => c.notNull())
        .addColumn("model_version_id", "text", (c) => c.notNull())
        .addColumn("bundle_sha256", "text", (c) => c.notNull())
        .addColumn("result", "text", (c) => c.notNull())
        .addColumn("frame_meta", "text", (c) => c.notNull())
        .addColumn("frame_width", "integer", (c) => c.notNull())
        .addColumn("frame_height", "integer", (c) => c.notNull())
        .addColumn("latency", "text", (c) => c.notNull())
        .addColumn("media_expected", "integer", (c) => c.notNull())
        .addColumn("media_sha256", "text")
        .execute();
      await db.schema.createIndex("events_device_seq").on("events").columns(["device_id", "seq"]).execute();
      await db.schema.createIndex("events_project").on("events").column("project_id").execute();

      await db.schema
        .createTable("event_media")
        .addColumn("event_id", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("content_type", "text", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("event_media_pk", ["event_id", "device_id"])
        .execute();

      await db.schema
        .createTable("incidents")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("event_id", "text", (c) => c.notNull().unique())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("label", "text", (c) => c.notNull())
        .addColumn("score", "double precision", (c) => c.notNull())
        .addColumn("rule", "text", (c) => c.notNull())
        .addColumn("model_version_id", "text", (c) => c.notNull())
        .addColumn("bundle_sha256", "text", (c) => c.notNull())
        .addColumn("frame_meta", "text", (c) => c.notNull())
        .addColumn("media_sha256", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("incidents_project_created")
        .on("incidents")
        .columns(["project_id", "created_at"])
        .execute();

      await db.schema
        .createTable("verdicts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("incident_id", "text", (c) => c.notNull().references("incidents.id"))
        .addColumn("verdict", "text", (c) => c.notNull())
        .addColumn("labels", "text", (c) => c.notNull())
        .addColumn("note", "text")
        .addColumn("decided_by", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("verdicts_incident").on("verdicts").column("incident_id").execute();

      await db.schema
        .createTable("notifications")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("incident_id", "text", (c) => c.notNull().references("incidents.id"))
        .addColumn("project_id", "text", (c) => c.notNull())
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("last_error", "text")
        .addColumn("next_attempt_at", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("sent_at", "text")
        .execute();
      await db.schema
        .createIndex("notifications_status")
        .on("notifications")
        .columns(["status", "next_attempt_at"])
        .execute();
      await db.schema
        .createIndex("notifications_cooldown")
        .on("notifications")
        .columns(["project_id", "channel", "target", "created_at"])
        .execute();
      await db.schema.createIndex("notifications_incident").on("notifications").column("incident_id").execute();
    },
  },
  "0002_datasets": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("samples")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("image_sha256", "text")
        .addColumn("image_format", "text")
        .addColumn("width", "integer")
        .addColumn("height", "integer")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("device_id", "text")
        .addColumn("incident_id", "text")
        .addColumn("event_id", "text")
        .addColumn("reason", "text")
        .addColumn("captured_at", "text")
        .addColumn("import_id", "text")
        .addColumn("item", "text")
        .addColumn("prediction", "text")
        .addColumn("group_key", "text")
        .addColumn("external_key", "text")
        .addColumn("current_revision_id", "text")
        .addColumn("label_status", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      // one sample per incident and per device capture id: verdicts and capture retries reuse it
      await db.schema
        .createIndex("samples_external_key")
        .on("samples")
        .columns(["project_id", "external_key"])
        .unique()
        .execute();
      await db.schema
        .createIndex("samples_project_image")
        .on("samples")
        .columns(["project_id", "image_sha256"])
        .execute();
      await db.schema
        .createIndex("samples_project_status")
        .on("samples")
        .columns(["project_id", "label_status"])
        .execute();
      await db.schema.createIndex("samples_event").on("samples").column("event_id").execute();

      await db.schema
        .createTable("label_revisions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("sample_id", "text", (c) => c.notNull().references("samples.id"))
        .addColumn("rev", "integer", (c) => c.notNull())
        .addColumn("content", "text", (c) => c.notNull())
        .addColumn("content_sha256", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("labeled_by", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("verdict_id", "text")
        .addColumn("import_id", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addUniqueConstraint("label_revisions_sample_rev", ["sample_id", "rev"])
        .execute();

      await db.schema
        .createTable("snapshots")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("name", "text")
        .addColumn("params", "text", (c) => c.notNull())
        .addColumn("sample_count", "integer", (c) => c.notNull())
        .addColumn("stats", "text", (c) => c.notNull())
        .addColumn("excluded", "text", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("snapshots_project").on("snapshots").columns(["project_id", "created_at"]).execute();

      await db.schema
        .createTable("dataset_imports")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("format", "text", (c) => c.notNull())
        .addColumn("options", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("total", "integer", (c) => c.notNull())
        .addColumn("result", "text")
        .addColumn("error", "text")
        .addColumn("archive_bytes", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("finished_at", "text")
        .execute();
    },
  },
  "0003_training_registry": {
    async up(db: Kysely<unknown>) {
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
    },
  },
  "0004_people": peopleMigration,
  "0005_incident_clips": {
    async up(db: Kysely<unknown>) {
      // clips may arrive before their event is ingested, like frames: kept by (event, device)
      await db.schema
        .createTable("event_clips")
        .addColumn("event_id", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("content_type", "text", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("duration_ms", "integer")
        .addColumn("frames", "integer")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("event_clips_pk", ["event_id", "device_id"])
        .execute();
      for (const [column, type] of [
        ["clip_sha256", "text"],
        ["clip_content_type", "text"],
        ["clip_size", "bigint"],
        ["clip_duration_ms", "integer"],
      ] as const)
        await db.schema.alterTable("incidents").addColumn(column, type).execute();
    },
  },
};

/** Static provider: migrations ship inside the code, so no directory has to exist at run time. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
