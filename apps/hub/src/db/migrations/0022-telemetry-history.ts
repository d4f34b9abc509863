import type { Kysely } from "kysely";

/**
 * Telemetry history: one row per device per minute, merged from every telemetry message of that
 * minute (sums and sample counts so that replicas writing the same minute add up, extremes, and
 * the counters of the latest message with its time). Keyed by device and minute, so a second
 * write of a minute merges into the row instead of adding one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("telemetry_points")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("minute", "text", (c) => c.notNull())
    .addColumn("samples", "integer", (c) => c.notNull())
    .addColumn("fps_sum", "double precision", (c) => c.notNull())
    .addColumn("fps_min", "double precision", (c) => c.notNull())
    .addColumn("fps_max", "double precision", (c) => c.notNull())
    .addColumn("p50_sum", "double precision", (c) => c.notNull())
    .addColumn("p95_max", "double precision", (c) => c.notNull())
    .addColumn("outbox_max", "integer", (c) => c.notNull())
    .addColumn("media_queue_max", "integer", (c) => c.notNull())
    .addColumn("capture_queue_max", "integer")
    .addColumn("last_ts", "text", (c) => c.notNull())
    .addColumn("frames_total", "bigint", (c) => c.notNull())
    .addColumn("frames_dropped", "bigint", (c) => c.notNull())
    .addColumn("events_dropped", "bigint")
    .addColumn("media_evicted", "bigint")
    .addPrimaryKeyConstraint("telemetry_points_pk", ["device_id", "minute"])
    .execute();
  // pruning walks the oldest minutes of every device
  await db.schema.createIndex("telemetry_points_minute").on("telemetry_points").column("minute").execute();
}
