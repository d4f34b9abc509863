import type { Kysely } from "kysely";

/**
 * Remote device configuration: every revision of a device's own config and of a project's
 * default (append-only history), and per device the merged config it is sent, with its own
 * revision counter, bumped whenever the merge changes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("device_config_revisions")
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("scope_id", "text", (c) => c.notNull())
    .addColumn("rev", "integer", (c) => c.notNull())
    .addColumn("config", "text", (c) => c.notNull())
    .addColumn("sha256", "text", (c) => c.notNull())
    .addColumn("comment", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("created_by", "text")
    .addPrimaryKeyConstraint("device_config_revisions_pk", ["scope", "scope_id", "rev"])
    .execute();
  await db.schema
    .createTable("device_config_delivery")
    .addColumn("device_id", "text", (c) => c.primaryKey())
    .addColumn("rev", "integer", (c) => c.notNull())
    .addColumn("sha256", "text", (c) => c.notNull())
    .addColumn("config", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
}
