import type { Kysely } from "kysely";

/**
 * Devices taken out of service: when one was retired (it can no longer connect and no longer
 * counts in the fleet, its history stays), when it was deleted (only a tombstone of its row
 * remains, so its history stays attributable and its id is never given to another device),
 * and a free-text description people edit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("devices").addColumn("retired_at", "text").execute();
  await db.schema.alterTable("devices").addColumn("deleted_at", "text").execute();
  await db.schema.alterTable("devices").addColumn("description", "text").execute();
}
