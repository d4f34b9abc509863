import type { Kysely } from "kysely";

/**
 * Bundle signing (docs/bundles.md). The private key is never here: only public trust roots, the
 * hub's bundle sequence, one sequence per distinct bundle content, the signatures served beside
 * bundles, and the downgrade grants signed for devices.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("signing_roots")
    .addColumn("version", "integer", (c) => c.primaryKey())
    .addColumn("signed", "text", (c) => c.notNull())
    .addColumn("signatures", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("signing_counters")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "integer", (c) => c.notNull())
    .execute();
  await db
    .withTables<{ signing_counters: { name: string; value: number } }>()
    .insertInto("signing_counters")
    .values({ name: "bundle", value: 0 })
    .execute();
  await db.schema
    .createTable("bundle_sequences")
    .addColumn("content_sha256", "text", (c) => c.primaryKey())
    .addColumn("sequence", "integer", (c) => c.notNull().unique())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("bundle_sequences_project")
    .on("bundle_sequences")
    .columns(["project_id", "sequence"])
    .execute();
  await db.schema
    .createTable("bundle_signatures")
    .addColumn("bundle_sha256", "text", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("signature", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("bundle_signatures_pk", ["bundle_sha256", "key_id"])
    .execute();
  await db.schema
    .createTable("downgrade_grants")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("pipeline", "text", (c) => c.notNull())
    .addColumn("bundle_sha256", "text", (c) => c.notNull())
    .addColumn("signed", "text", (c) => c.notNull())
    .addColumn("signatures", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("downgrade_grants_pk", ["device_id", "pipeline", "bundle_sha256"])
    .execute();
}
