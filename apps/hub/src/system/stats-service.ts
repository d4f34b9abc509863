import type { HubStats } from "@kensa/contracts";
import { type Kysely, sql } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { IngestCounters } from "../ingest/ingest.js";

/** Tables that only grow (the hub never deletes their rows) and reach millions of rows. */
type GrowingTable = "events" | "incidents" | "verdicts" | "notifications";

/** Below this many rows PostgreSQL counts exactly: an index-only count of so few takes milliseconds. */
const EXACT_BELOW = 100_000;

/**
 * Counts for the console and `kensa` CLI: stored totals from the database, ingest counters from
 * memory. None of them reads a big table row by row (`count(*)` of 10 M events took 0.3–1 s):
 *
 * - SQLite: events, incidents, verdicts and notifications are exact. They are rowid tables that
 *   only grow, so their largest rowid is their row count (a rolled-back or skipped insert takes
 *   no rowid), read in one B-tree descent. Should rows ever be deleted it becomes an upper bound.
 * - PostgreSQL: those four are exact below `EXACT_BELOW` rows and estimated above it, from the
 *   planner's statistics (rows per page at the last ANALYZE × the table's pages now), so they
 *   follow growth between autovacuum runs; expect them within a few percent.
 * - Devices, projects, and notifications that are pending, failed or suppressed: exact counts
 *   over small tables or short index ranges (`notifications_status`); sent notifications are the
 *   total minus those.
 */
export class StatsService {
  #db: Kysely<HubDatabase>;
  #ingest: () => IngestCounters;
  #dialect: "sqlite" | "postgres";

  constructor(db: Kysely<HubDatabase>, ingest: () => IngestCounters, dialect: "sqlite" | "postgres") {
    this.#db = db;
    this.#ingest = ingest;
    this.#dialect = dialect;
  }

  /** Rows of a table that only grows, without reading them (exact or estimated: see the class). */
  async rowCount(table: GrowingTable): Promise<number> {
    if (this.#dialect === "sqlite") {
      const r = await sql<{ n: number | null }>`select max(rowid) as n from ${sql.table(table)}`.execute(this.#db);
      return Number(r.rows[0]?.n ?? 0);
    }
    const r = await sql<{ n: number | null }>`
      select case when c.reltuples < 0 or c.relpages = 0 then null
        else c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::int) end as n
      from pg_class c where c.oid = to_regclass(${table})`.execute(this.#db);
    const estimate = r.rows[0]?.n;
    if (estimate !== null && estimate !== undefined && Number(estimate) >= EXACT_BELOW) {
      return Math.round(Number(estimate));
    }
    return this.#exactCount(table);
  }

  async #exactCount(table: GrowingTable | "projects"): Promise<number> {
    const r = await this.#db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async get(): Promise<HubStats> {
    const devices = await this.#db
      .selectFrom("devices")
      .select(["presence", (eb) => eb.fn.countAll().as("n")])
      // retired (and deleted) devices no longer count in the fleet
      .where("retired_at", "is", null)
      .groupBy("presence")
      .execute();
    // few rows are ever pending, failed or suppressed; every sent one is the rest of the table
    const unsent = await this.#db
      .selectFrom("notifications")
      .select(["status", (eb) => eb.fn.countAll().as("n")])
      .where("status", "in", ["pending", "failed", "suppressed"])
      .groupBy("status")
      .execute();
    const byStatus = (s: string) => Number(unsent.find((r) => r.status === s)?.n ?? 0);
    const [events, incidents, verdicts, notifications] = await Promise.all([
      this.rowCount("events"),
      this.rowCount("incidents"),
      this.rowCount("verdicts"),
      this.rowCount("notifications"),
    ]);
    const pending = byStatus("pending");
    const failed = byStatus("failed");
    const suppressed = byStatus("suppressed");
    return {
      devices: {
        total: devices.reduce((a, r) => a + Number(r.n), 0),
        online: Number(devices.find((r) => r.presence === "online")?.n ?? 0),
      },
      events,
      incidents,
      verdicts,
      notifications: {
        sent: Math.max(0, notifications - pending - failed - suppressed),
        failed,
        suppressed,
        pending,
      },
      ingest: { ...this.#ingest() },
    };
  }

  projectCount(): Promise<number> {
    return this.#exactCount("projects");
  }
}
