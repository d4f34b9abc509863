import type { Kysely } from "kysely";

/**
 * Labelled samples and field figures from sites (issue #18, docs/operations.md "Multi-site").
 *
 * On a central hub: `site_samples`, which central sample holds which site sample, and the
 * site's label revision (and its `rev`) central last took for it. Its primary key is what makes
 * a batch resent after a cut store nothing twice; a site revision of a higher `rev` appends a
 * label revision to the same sample, a resent older one changes nothing. `sites.field` keeps the
 * site's latest field summary (SiteField as JSON), like `fleet`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("site_samples")
    .addColumn("site_id", "text", (c) => c.notNull())
    .addColumn("site_sample_id", "text", (c) => c.notNull())
    .addColumn("sample_id", "text", (c) => c.notNull())
    .addColumn("site_revision_id", "text", (c) => c.notNull())
    .addColumn("site_rev", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("site_samples_pk", ["site_id", "site_sample_id"])
    .execute();
  await db.schema.createIndex("site_samples_sample").on("site_samples").column("sample_id").execute();
  await db.schema.alterTable("sites").addColumn("field", "text").execute();
}
