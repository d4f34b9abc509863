import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/**
 * Work that one hub replica does at a time (e.g. looking at training triggers): whoever holds
 * the lease named `name` does it and renews it each time; when the holder stops renewing (it
 * died), another replica takes it over once `ttlMs` has passed. One conditional upsert, so of
 * two replicas asking at once exactly one holds it.
 */
export class NamedLease {
  #db: Kysely<HubDatabase>;
  readonly name: string;
  readonly holder: string;
  /** ms */
  readonly ttlMs: number;

  constructor(db: Kysely<HubDatabase>, o: { name: string; holder: string; ttlMs: number }) {
    this.#db = db;
    this.name = o.name;
    this.holder = o.holder;
    this.ttlMs = o.ttlMs;
  }

  /** takes or renews the lease; true when this holder has it until ttlMs from now */
  async acquire(): Promise<boolean> {
    const now = Date.now();
    const row = await this.#db
      .insertInto("hub_leases")
      .values({ name: this.name, holder: this.holder, expires_at: new Date(now + this.ttlMs).toISOString() })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet((eb) => ({ holder: eb.ref("excluded.holder"), expires_at: eb.ref("excluded.expires_at") }))
          .where((eb) =>
            eb.or([
              eb("hub_leases.holder", "=", this.holder),
              eb("hub_leases.expires_at", "<", new Date(now).toISOString()),
            ]),
          ),
      )
      .returning("holder")
      .executeTakeFirst();
    return row !== undefined;
  }

  /** lets another replica take it at once (a clean stop) */
  async release(): Promise<void> {
    await this.#db.deleteFrom("hub_leases").where("name", "=", this.name).where("holder", "=", this.holder).execute();
  }
}
