import type { Kysely } from "kysely";

/**
 * What hub replicas on one database share: leases on jobs and notifications (a replica that
 * dies mid-claim lets another take the work once the lease runs out), failed sign-ins (a
 * guessing spread over replicas is still throttled), named leases for work one replica does
 * at a time (training triggers) and event payloads too large for one NOTIFY.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // the replica sending a notification; its lease is next_attempt_at
  await db.schema.alterTable("notifications").addColumn("claimed_by", "text").execute();
  // a running job belongs to its worker until then; the worker renews it while the job runs
  await db.schema.alterTable("jobs").addColumn("lease_until", "text").execute();

  await db.schema
    .createTable("login_failures")
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("failed_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("login_failures_key").on("login_failures").columns(["key", "failed_at"]).execute();
  await db.schema.createIndex("login_failures_at").on("login_failures").column("failed_at").execute();

  await db.schema
    .createTable("hub_leases")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("holder", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("bus_payloads")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("bus_payloads_created").on("bus_payloads").column("created_at").execute();
}
