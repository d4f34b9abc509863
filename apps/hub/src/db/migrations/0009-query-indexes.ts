import type { Kysely } from "kysely";

/**
 * Indexes in the order of each list (`incidents/event-queries.ts`, `incident-queries.ts`), so a
 * page — first or a thousand pages deep — reads its rows straight off one index instead of
 * sorting every matching row, and a keyset cursor (sort key > last row's) is a range of it.
 * Each key ends with `id`: rows sharing a time (or a seq, after an agent lost its database) still
 * have one order, and a cursor neither skips nor repeats them.
 *
 * Every index is a B-tree each event insert also writes, so events get only the orders people
 * list by — seq per device and per project, capture time (ts) and storage time (received_at) per
 * project and per device — and give up `events_project`, a prefix of the project indexes.
 * Incidents are about 1 % of events, so they get one index per filter the console offers.
 *
 * Measured with SQLite on 2 M stored events, inserting 250-row batches: about 90–110 µs of CPU
 * an event with the indexes before this migration, 135–175 µs with these, of which the two
 * device time indexes take 10–35 µs (runs varied by a third). Building them on a
 * 10 M-event store took 85 s at the upgrade's first start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const index = (name: string, table: string, columns: string[]) =>
    db.schema.createIndex(name).on(table).columns(columns).execute();

  await db.schema.dropIndex("events_project").execute();
  await db.schema.dropIndex("events_device_seq").execute();
  await db.schema.dropIndex("events_project_device_seq").execute();
  await index("events_device_seq_id", "events", ["device_id", "seq", "id"]);
  await index("events_project_device_seq_id", "events", ["project_id", "device_id", "seq", "id"]);
  await index("events_project_received", "events", ["project_id", "received_at", "id"]);
  await index("events_project_ts", "events", ["project_id", "ts", "id"]);
  await index("events_device_received", "events", ["device_id", "received_at", "id"]);
  await index("events_device_ts", "events", ["device_id", "ts", "id"]);

  await db.schema.dropIndex("incidents_project_created").execute();
  await index("incidents_project_created_id", "incidents", ["project_id", "created_at", "id"]);
  await index("incidents_project_status", "incidents", ["project_id", "status", "created_at", "id"]);
  await index("incidents_project_label", "incidents", ["project_id", "label", "created_at", "id"]);
  await index("incidents_device_created", "incidents", ["device_id", "created_at", "id"]);
  await index("incidents_status_created", "incidents", ["status", "created_at", "id"]);
  await index("incidents_created", "incidents", ["created_at", "id"]);
}
