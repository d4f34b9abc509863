import type { Kysely } from "kysely";

/**
 * Golden references of a project (issue #17, docs/datasets.md "Reference images").
 *
 * `project_references`: one image per product / recipe key of a project (a blob by sha256),
 * one of them the project's default (`is_default` = 1). `samples.reference_key` names the
 * reference a sample is compared with; null = the project's default.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("project_references")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("image_sha256", "text", (c) => c.notNull())
    .addColumn("image_format", "text", (c) => c.notNull())
    .addColumn("width", "integer", (c) => c.notNull())
    .addColumn("height", "integer", (c) => c.notNull())
    .addColumn("is_default", "integer", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("project_references_project_key")
    .unique()
    .on("project_references")
    .columns(["project_id", "key"])
    .execute();
  await db.schema.alterTable("samples").addColumn("reference_key", "text").execute();
}
