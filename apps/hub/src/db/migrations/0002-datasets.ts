import type { Kysely } from "kysely";

/** Dataset samples, their label revisions, snapshots and imports. */
export async function up(db: Kysely<unknown>): Promise<void> {
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
  await db.schema.createIndex("samples_project_image").on("samples").columns(["project_id", "image_sha256"]).execute();
  await db.schema.createIndex("samples_project_status").on("samples").columns(["project_id", "label_status"]).execute();
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
}
