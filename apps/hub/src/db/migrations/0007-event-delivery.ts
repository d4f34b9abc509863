import { type Kysely, sql } from "kysely";

/**
 * End-to-end event delivery. Each device row counts the events stored from it and the highest
 * seq seen, so a gap in a device's sequence shows without scanning events; events the hub
 * refused for good (invalid, wrong device, a constraint) are kept in `rejected_events` with
 * their payload and reason instead of vanishing, and confirmed to the device as rejected.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("devices")
    .addColumn("events_stored", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable("devices")
    .addColumn("events_max_seq", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`UPDATE devices SET
    events_stored = (SELECT COUNT(*) FROM events WHERE events.device_id = devices.id),
    events_max_seq = COALESCE((SELECT MAX(seq) FROM events WHERE events.device_id = devices.id), 0)`.execute(db);

  await db.schema
    .createTable("rejected_events")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("event_id", "text")
    .addColumn("code", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("received_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("rejected_events_pk", ["device_id", "seq", "received_at"])
    .execute();
  await db.schema.createIndex("rejected_events_received").on("rejected_events").column("received_at").execute();
}
