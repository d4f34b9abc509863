import type { Kysely } from "kysely";

/**
 * Events listed by project come in (device, seq) order: an index in that order answers the list
 * from the index alone, where the project index left a sort of every event of the project.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("events_project_device_seq")
    .on("events")
    .columns(["project_id", "device_id", "seq"])
    .execute();
}
