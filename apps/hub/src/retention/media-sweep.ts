import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { incidentsOf, OPEN_INCIDENT } from "./event-sweep.js";
import { afterRow } from "./keyset.js";
import type { KindSweep, Removed, SweepContext, SweepRow } from "./kind-sweep.js";
import type { KeepReason } from "./run-counters.js";

export interface MediaRow extends SweepRow {
  eventId: string;
  deviceId: string;
  sha256: string;
}

/**
 * Frames (`event_media`) or clips (`event_clips`) by upload time, counted by their bytes. The
 * frame or clip of an open incident stays, as does anything of a held device or incident.
 * Deleting one also clears the hash where the event and a decided incident name it, and
 * releases the blob (which stays while a sample, a snapshot or another event names it).
 */
export class MediaSweep implements KindSweep<MediaRow> {
  readonly kind: "frames" | "clips";
  #db: Kysely<HubDatabase>;
  #table: "event_media" | "event_clips";

  constructor(db: Kysely<HubDatabase>, kind: "frames" | "clips") {
    this.#db = db;
    this.kind = kind;
    this.#table = kind === "frames" ? "event_media" : "event_clips";
  }

  async page(ctx: SweepContext, after: SweepRow | null, before: string | null, limit: number): Promise<MediaRow[]> {
    let q = this.#db
      .selectFrom(this.#table)
      .select(["event_id", "device_id", "sha256", "size", "created_at"])
      .where("device_id", "in", (eb) => eb.selectFrom("devices").select("id").where("project_id", "=", ctx.projectId));
    if (before) q = q.where("created_at", "<", before);
    if (after) q = q.where((eb) => afterRow(eb, ["created_at", "event_id", "device_id"], after));
    const rows = await q.orderBy("created_at").orderBy("event_id").orderBy("device_id").limit(limit).execute();
    return rows.map((r) => ({
      eventId: r.event_id,
      deviceId: r.device_id,
      sha256: r.sha256,
      time: r.created_at,
      key: [r.event_id, r.device_id],
      size: Number(r.size),
    }));
  }

  async total(ctx: SweepContext): Promise<number> {
    const row = await this.#db
      .selectFrom(this.#table)
      .select((eb) => eb.fn.sum<number>("size").as("n"))
      .where("device_id", "in", (eb) => eb.selectFrom("devices").select("id").where("project_id", "=", ctx.projectId))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async keep(ctx: SweepContext, rows: readonly MediaRow[]): Promise<Array<KeepReason | null>> {
    const incidents = await incidentsOf(
      this.#db,
      rows.map((r) => r.eventId),
    );
    return rows.map((r) => {
      const inc = incidents.get(r.eventId);
      if (ctx.holds.project || ctx.holds.devices.has(r.deviceId) || (inc && ctx.holds.incidents.has(inc.id)))
        return "legalHold";
      if (inc && (OPEN_INCIDENT as readonly string[]).includes(inc.status)) return "openIncident";
      return null;
    });
  }

  async remove(trx: Kysely<HubDatabase>, rows: readonly MediaRow[]): Promise<Removed> {
    const gone: MediaRow[] = [];
    for (const r of rows) {
      const res = await trx
        .deleteFrom(this.#table)
        .where("event_id", "=", r.eventId)
        .where("device_id", "=", r.deviceId)
        .where("sha256", "=", r.sha256)
        .executeTakeFirst();
      // replaced by a newer upload since the page was read: that one is not this row
      if (Number(res.numDeletedRows) === 0) continue;
      gone.push(r);
      if (this.kind === "frames") {
        await trx
          .updateTable("events")
          .set({ media_sha256: null })
          .where("id", "=", r.eventId)
          .where("media_sha256", "=", r.sha256)
          .execute();
        await trx
          .updateTable("incidents")
          .set({ media_sha256: null })
          .where("event_id", "=", r.eventId)
          .where("status", "not in", [...OPEN_INCIDENT])
          .where("media_sha256", "=", r.sha256)
          .execute();
      } else {
        await trx
          .updateTable("incidents")
          .set({ clip_sha256: null, clip_content_type: null, clip_size: null, clip_duration_ms: null })
          .where("event_id", "=", r.eventId)
          .where("status", "not in", [...OPEN_INCIDENT])
          .where("clip_sha256", "=", r.sha256)
          .execute();
      }
    }
    return { deleted: gone.length, blobs: gone.map((r) => ({ sha256: r.sha256, size: r.size })) };
  }
}
