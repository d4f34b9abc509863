import type { Kysely } from "kysely";

/**
 * A person's site scope on a central hub: `sites` holds a JSON array of site ids whose incidents
 * (and site records) the user may see and decide; null is every site and the hub's own data, as
 * before. A nullable column added in place: existing users keep their full view. The index
 * serves central's incident pages by site in their newest-first order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("users").addColumn("sites", "text").execute();
  // central's incident list by site (a filter, or a scoped person's view), newest first
  await db.schema
    .createIndex("incidents_site_created")
    .on("incidents")
    .columns(["site_id", "created_at", "id"])
    .execute();
}
