import type { Kysely } from "kysely";

/**
 * The device credential lifecycle: when a device was revoked (null while active), and the state
 * of its account on a broker the hub manages (null = in sync or nothing to manage; `pending` = a
 * revocation the broker has not confirmed; `needs_rotation` = the broker lost the account).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("devices").addColumn("revoked_at", "text").execute();
  await db.schema.alterTable("devices").addColumn("broker_account", "text").execute();
}
