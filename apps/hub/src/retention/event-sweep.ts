import { type Kysely, sql } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { afterRow } from "./keyset.js";
import type { KindSweep, Removed, SweepContext, SweepRow } from "./kind-sweep.js";
import type { KeepReason } from "./run-counters.js";

export interface EventRow extends SweepRow {
  id: string;
  deviceId: string;
}

/** Incident statuses that have no verdict yet: their evidence stays. */
export const OPEN_INCIDENT = ["open", "acknowledged"] as const;

/**
 * Events by storage time. An event that raised an incident stays as long as the incident
 * does (an incident is the record people decided on); so do events of held devices. Deleting
 * an event deletes its frame and clip rows too, and releases their blobs. An event's size is
 * the bytes of its stored result, frame metadata and latencies.
 */
export class EventSweep implements KindSweep<EventRow> {
  readonly kind = "events";
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  async page(ctx: SweepContext, after: SweepRow | null, before: string | null, limit: number): Promise<EventRow[]> {
    let q = this.#db
      .selectFrom("events")
      .select([
        "id",
        "device_id",
        "received_at",
        sql<number>`length(result) + length(frame_meta) + length(latency)`.as("size"),
      ])
      .where("project_id", "=", ctx.projectId);
    if (before) q = q.where("received_at", "<", before);
    if (after) q = q.where((eb) => afterRow(eb, ["received_at", "id"], after));
    const rows = await q.orderBy("received_at").orderBy("id").limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      deviceId: r.device_id,
      time: r.received_at,
      key: [r.id],
      size: Number(r.size),
    }));
  }

  async total(ctx: SweepContext): Promise<number> {
    const row = await this.#db
      .selectFrom("events")
      .select(sql<number>`sum(length(result) + length(frame_meta) + length(latency))`.as("n"))
      .where("project_id", "=", ctx.projectId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async keep(ctx: SweepContext, rows: readonly EventRow[]): Promise<Array<KeepReason | null>> {
    const incidents = await incidentsOf(
      this.#db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => {
      const inc = incidents.get(r.id);
      if (ctx.holds.project || ctx.holds.devices.has(r.deviceId) || (inc && ctx.holds.incidents.has(inc.id)))
        return "legalHold";
      if (inc) return (OPEN_INCIDENT as readonly string[]).includes(inc.status) ? "openIncident" : "incidentEvent";
      return null;
    });
  }

  async remove(trx: Kysely<HubDatabase>, rows: readonly EventRow[]): Promise<Removed> {
    const gone = await trx
      .deleteFrom("events")
      .where(
        "id",
        "in",
        rows.map((r) => r.id),
      )
      // an incident is raised in the event's own transaction; this only guards the invariant
      .where((eb) =>
        eb.not(eb.exists(eb.selectFrom("incidents").select("id").whereRef("incidents.event_id", "=", "events.id"))),
      )
      .returning("id")
      .execute();
    const ids = gone.map((r) => r.id);
    if (ids.length === 0) return { deleted: 0, blobs: [] };
    const media = await trx
      .deleteFrom("event_media")
      .where("event_id", "in", ids)
      .returning(["sha256", "size"])
      .execute();
    const clips = await trx
      .deleteFrom("event_clips")
      .where("event_id", "in", ids)
      .returning(["sha256", "size"])
      .execute();
    return {
      deleted: ids.length,
      blobs: [...media, ...clips].map((b) => ({ sha256: b.sha256, size: Number(b.size) })),
    };
  }
}

/** The incident (id, status) of each event that raised one. */
export async function incidentsOf(
  db: Kysely<HubDatabase>,
  eventIds: readonly string[],
): Promise<Map<string, { id: string; status: string }>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("incidents")
    .select(["id", "event_id", "status"])
    .where("event_id", "in", [...eventIds])
    .execute();
  return new Map(rows.map((r) => [r.event_id, { id: r.id, status: r.status }]));
}
