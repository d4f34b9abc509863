import type { Kysely } from "kysely";

/**
 * Every index on `events` is written by each insert, and the ones led by the device are the
 * dearest: a batch from many devices dirties a leaf page per device in each. Measured with
 * SQLite, 1,000-event batches from 200 devices: 140 ms with `events_device_ts`, 93 ms without
 * (runs varied by a quarter). A device's events newest first by capture time (`ts`) was the
 * least used of the lists; it now sorts that device's events, while newest first by
 * `receivedAt` and in seq order keep their indexes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("events_device_ts").ifExists().execute();
}
