import type { Kysely } from "kysely";

/**
 * Device client certificates the hub issued: the embedded broker takes a certificate only while
 * its serial is recorded here for the device it names and is not revoked.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("device_certificates")
    .addColumn("serial", "text", (c) => c.primaryKey())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("issued_at", "text", (c) => c.notNull())
    .addColumn("not_after", "text", (c) => c.notNull())
    .addColumn("revoked_at", "text")
    .execute();
  await db.schema
    .createIndex("device_certificates_device")
    .on("device_certificates")
    .columns(["device_id", "issued_at"])
    .execute();
}
