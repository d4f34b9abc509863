import type { HubStats } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { IngestCounters } from "../ingest/ingest.js";

/** Counts for the console and `kensa` CLI: stored totals from the database, ingest counters from memory. */
export class StatsService {
  #db: Kysely<HubDatabase>;
  #ingest: () => IngestCounters;

  constructor(db: Kysely<HubDatabase>, ingest: () => IngestCounters) {
    this.#db = db;
    this.#ingest = ingest;
  }

  async #count(table: "events" | "incidents" | "verdicts" | "projects"): Promise<number> {
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
      .groupBy("presence")
      .execute();
    const notifications = await this.#db
      .selectFrom("notifications")
      .select(["status", (eb) => eb.fn.countAll().as("n")])
      .groupBy("status")
      .execute();
    const byStatus = (s: string) => Number(notifications.find((r) => r.status === s)?.n ?? 0);
    return {
      devices: {
        total: devices.reduce((a, r) => a + Number(r.n), 0),
        online: Number(devices.find((r) => r.presence === "online")?.n ?? 0),
      },
      events: await this.#count("events"),
      incidents: await this.#count("incidents"),
      verdicts: await this.#count("verdicts"),
      notifications: {
        sent: byStatus("sent"),
        failed: byStatus("failed"),
        suppressed: byStatus("suppressed"),
        pending: byStatus("pending"),
      },
      ingest: { ...this.#ingest() },
    };
  }

  projectCount(): Promise<number> {
    return this.#count("projects");
  }
}
