import type { Kysely } from "kysely";

/**
 * Device authentication lockouts, shared by hub replicas: one row per device id or source
 * address (`key` = `device:<id>` or `ip:<address>`) that failed too often, refused until
 * `locked_until`; `lockouts` doubles the next lockout. Every replica reads the rows still in
 * force about once a second (fleet/device-auth-throttle.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("auth_lockouts")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("locked_until", "text", (c) => c.notNull())
    .addColumn("lockouts", "integer", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("auth_lockouts_until").on("auth_lockouts").column("locked_until").execute();
}
