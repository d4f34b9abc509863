import type { Kysely } from "kysely";

/**
 * Blob integrity: media that arrived before its event (kept within bounds and swept when its
 * event never comes) and the blob problems found by reads, the scrub and fsck.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("early_media")
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("device_id", "text", (c) => c.notNull())
    // "frame" (event_media) or "clip" (event_clips)
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("received_at", "text", (c) => c.notNull())
    // the device's highest stored event seq when the media came: the sweep waits for it to grow
    .addColumn("device_seq", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("early_media_pk", ["event_id", "device_id", "kind"])
    .execute();
  await db.schema.createIndex("early_media_device").on("early_media").column("device_id").execute();
  await db.schema.createIndex("early_media_received").on("early_media").column("received_at").execute();

  await db.schema
    .createTable("blob_problems")
    .addColumn("sha256", "text", (c) => c.primaryKey())
    // "corrupt" (quarantined) or "missing" (referenced, absent)
    .addColumn("problem", "text", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull())
    .addColumn("found_at", "text", (c) => c.notNull())
    .execute();
}
