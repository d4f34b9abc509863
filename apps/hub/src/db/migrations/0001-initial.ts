import type { Kysely } from "kysely";

/** Projects, the fleet, model versions and bundles, deployments, events, incidents and notifications. */
export async function up(db: Kysely<unknown>): Promise<void> {
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
  await db.schema.createIndex("deployments_project").on("deployments").columns(["project_id", "created_at"]).execute();

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
}
