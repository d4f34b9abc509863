import type { Kysely } from "kysely";

/** Incident clips: the video around an incident frame, kept per (event, device) and linked from the incident. */
export async function up(db: Kysely<unknown>): Promise<void> {
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
}
