import type { Kysely } from "kysely";

/**
 * Retention: each project's own limits, legal holds, and a record of every run. Plus the
 * indexes a run walks by: media and clips oldest first, captures per project oldest first, and
 * the lookups that tell whether a blob is still referenced (by content hash) or an event still
 * has an incident. None is on `events`, whose every index each insert pays for; events are
 * walked by `events_project_received`, which exists already.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("retention_policies")
    .addColumn("project_id", "text", (c) => c.primaryKey())
    .addColumn("policy", "text", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("legal_holds")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("target_id", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("released_at", "text")
    .addColumn("released_by", "text")
    .execute();
  await db.schema.createIndex("legal_holds_project").on("legal_holds").columns(["project_id", "created_at"]).execute();
  await db.schema
    .createTable("retention_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("holder", "text", (c) => c.notNull())
    .addColumn("started_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text", (c) => c.notNull())
    .addColumn("result", "text", (c) => c.notNull())
    .execute();

  const index = (name: string, table: string, columns: string[]) =>
    db.schema.createIndex(name).on(table).columns(columns).execute();
  await index("event_media_created", "event_media", ["created_at", "event_id", "device_id"]);
  await index("event_media_sha", "event_media", ["sha256"]);
  await index("event_clips_created", "event_clips", ["created_at", "event_id", "device_id"]);
  await index("event_clips_sha", "event_clips", ["sha256"]);
  await index("incidents_event", "incidents", ["event_id", "status"]);
  await index("incidents_media", "incidents", ["media_sha256"]);
  await index("incidents_clip", "incidents", ["clip_sha256"]);
  await index("samples_image", "samples", ["image_sha256"]);
  await index("samples_project_source_created", "samples", ["project_id", "source", "created_at", "id"]);
}
