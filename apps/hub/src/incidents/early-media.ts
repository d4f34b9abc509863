import { KensaError } from "@kensa/contracts";
import { type Kysely, sql } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";

/** What kind of upload waits for its event: a frame (event_media) or a clip (event_clips). */
export type EarlyMediaKind = "frame" | "clip";

export interface EarlyMediaLimits {
  /** uploads of one device that may wait for events the hub does not hold yet */
  perDevice: number;
  /** ms an upload waits for its event before it may be swept as an orphan */
  graceMs: number;
}

export const DEFAULT_EARLY_MEDIA: EarlyMediaLimits = { perDevice: 1_000, graceMs: 72 * 3_600_000 };

/**
 * The ids a device may name for an event the hub has not received: what the event schema
 * accepts (8 to 64 characters), restricted to the characters an agent's ids use (UUIDs) and
 * safe in a path, a log line and a file name.
 */
const EVENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$/;

export interface EarlyOrphan {
  eventId: string;
  deviceId: string;
  kind: EarlyMediaKind;
  sha256: string | null;
  receivedAt: string;
}

/**
 * Media that overtook its event (HTTP is faster than a device's MQTT outbox, or the hub's
 * ingest was failing): accepted only from the calling device, under its own id, within a
 * per-device bound, and remembered here until its event arrives. An upload whose event never
 * arrives is an orphan once the grace has passed *and* the device has since delivered newer
 * events with no gap in its sequence — so media is never swept while its event may still be
 * waiting in the device's outbox (docs/delivery.md, "Early media").
 */
export class EarlyMedia {
  readonly #db: Kysely<HubDatabase>;
  #limits: EarlyMediaLimits;

  constructor(db: Kysely<HubDatabase>, limits: EarlyMediaLimits = DEFAULT_EARLY_MEDIA) {
    this.#db = db;
    this.#limits = limits;
  }

  get limits(): EarlyMediaLimits {
    return this.#limits;
  }

  /** the bounds from the hub's config, applied before the hub serves */
  setLimits(limits: EarlyMediaLimits): void {
    this.#limits = { ...limits };
  }

  /** throws KENSA_ERR_EVENT_ID_INVALID for an id no agent makes */
  static checkId(eventId: string): void {
    if (!EVENT_ID_RE.test(eventId)) {
      throw new KensaError(
        "KENSA_ERR_EVENT_ID_INVALID",
        "an event id is 8 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
        { eventId: eventId.slice(0, 80) },
      );
    }
  }

  /**
   * Records an upload for an event not stored yet, before its bytes are stored. Throws
   * KENSA_ERR_EVENT_ID_INVALID, or KENSA_ERR_EARLY_MEDIA_LIMIT (429: the agent keeps the media
   * and retries, by when its events have caught up).
   */
  async admit(deviceId: string, eventId: string, kind: EarlyMediaKind): Promise<void> {
    EarlyMedia.checkId(eventId);
    const waiting = await this.#db
      .selectFrom("early_media")
      .select("event_id")
      .where("event_id", "=", eventId)
      .where("device_id", "=", deviceId)
      .where("kind", "=", kind)
      .executeTakeFirst();
    if (waiting) return;
    if ((await this.#count(deviceId)) >= this.#limits.perDevice) {
      // the counted rows may be events that arrived since: forget those, then count again
      await this.resolve(deviceId);
      if ((await this.#count(deviceId)) >= this.#limits.perDevice) {
        throw new KensaError(
          "KENSA_ERR_EARLY_MEDIA_LIMIT",
          `device ${deviceId} has ${this.#limits.perDevice} uploads waiting for events the hub has not received; retry once they arrive`,
          { deviceId, limit: this.#limits.perDevice },
        );
      }
    }
    const device = await this.#db
      .selectFrom("devices")
      .select("events_max_seq")
      .where("id", "=", deviceId)
      .executeTakeFirst();
    await this.#db
      .insertInto("early_media")
      .values({
        event_id: eventId,
        device_id: deviceId,
        kind,
        received_at: isoNow(),
        device_seq: Number(device?.events_max_seq ?? 0),
      })
      .onConflict((oc) => oc.columns(["event_id", "device_id", "kind"]).doNothing())
      .execute();
  }

  /** forgets waiting uploads whose event is stored now; the number forgotten */
  async resolve(deviceId?: string): Promise<number> {
    let q = this.#db
      .deleteFrom("early_media")
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom("events")
            .select(sql.lit(1).as("one"))
            .whereRef("events.id", "=", "early_media.event_id")
            .whereRef("events.device_id", "=", "early_media.device_id"),
        ),
      );
    if (deviceId) q = q.where("device_id", "=", deviceId);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Uploads past the grace whose device has since delivered newer events and shows no gap in
   * its sequence (events it reported dropped or rejected excepted): its outbox holds nothing
   * older, so the event is not coming.
   */
  async orphans(now = new Date()): Promise<EarlyOrphan[]> {
    const before = new Date(now.getTime() - this.#limits.graceMs).toISOString();
    const rows = await this.#db
      .selectFrom("early_media")
      .innerJoin("devices", "devices.id", "early_media.device_id")
      .leftJoin("event_media", (j) =>
        j
          .onRef("event_media.event_id", "=", "early_media.event_id")
          .onRef("event_media.device_id", "=", "early_media.device_id"),
      )
      .leftJoin("event_clips", (j) =>
        j
          .onRef("event_clips.event_id", "=", "early_media.event_id")
          .onRef("event_clips.device_id", "=", "early_media.device_id"),
      )
      .select([
        "early_media.event_id",
        "early_media.device_id",
        "early_media.kind",
        "early_media.received_at",
        "early_media.device_seq",
        "devices.events_max_seq",
        "devices.events_stored",
        "devices.reported",
        "event_media.sha256 as frame_sha256",
        "event_clips.sha256 as clip_sha256",
      ])
      .where("early_media.received_at", "<", before)
      .whereRef("devices.events_max_seq", ">", "early_media.device_seq")
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("events")
              .select(sql.lit(1).as("one"))
              .whereRef("events.id", "=", "early_media.event_id")
              .whereRef("events.device_id", "=", "early_media.device_id"),
          ),
        ),
      )
      .orderBy("early_media.received_at")
      .execute();
    return rows
      .filter((r) => Number(r.events_max_seq) - Number(r.events_stored) - accountedOnDevice(r.reported) <= 0)
      .map((r) => ({
        eventId: r.event_id,
        deviceId: r.device_id,
        kind: r.kind as EarlyMediaKind,
        sha256: (r.kind === "clip" ? r.clip_sha256 : r.frame_sha256) ?? null,
        receivedAt: r.received_at,
      }));
  }

  /**
   * Removes orphans (see `orphans`): their frame or clip row and their waiting record. The
   * blob stays until nothing references it (fsck). Returns what was removed.
   */
  async sweep(now = new Date()): Promise<{ resolved: number; removed: EarlyOrphan[] }> {
    const resolved = await this.resolve();
    const removed: EarlyOrphan[] = [];
    for (const o of await this.orphans(now)) {
      await this.#db.transaction().execute(async (trx) => {
        const table = o.kind === "clip" ? "event_clips" : "event_media";
        // the event may have come since the look: then the media is its own, not an orphan
        const gone = await trx
          .deleteFrom(table)
          .where("event_id", "=", o.eventId)
          .where("device_id", "=", o.deviceId)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom("events").select(sql.lit(1).as("one")).where("events.id", "=", o.eventId))),
          )
          .executeTakeFirst();
        if (Number(gone.numDeletedRows) === 0 && (await eventStored(trx, o.eventId))) return;
        await trx
          .deleteFrom("early_media")
          .where("event_id", "=", o.eventId)
          .where("device_id", "=", o.deviceId)
          .where("kind", "=", o.kind)
          .execute();
      });
      if (!(await eventStored(this.#db, o.eventId))) removed.push(o);
    }
    return { resolved, removed };
  }

  async #count(deviceId: string): Promise<number> {
    const r = await this.#db
      .selectFrom("early_media")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .where("device_id", "=", deviceId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

async function eventStored(db: Kysely<HubDatabase>, eventId: string): Promise<boolean> {
  return !!(await db.selectFrom("events").select("id").where("id", "=", eventId).executeTakeFirst());
}

/**
 * Events a device says it dropped (full disk) or had rejected: gaps in its sequence that are
 * accounted for (the same sum the fleet's missing-events count subtracts).
 */
function accountedOnDevice(reported: string | null): number {
  if (!reported) return 0;
  try {
    const r = JSON.parse(reported) as { eventsDropped?: number; eventsRejected?: number };
    return (Number(r.eventsDropped) || 0) + (Number(r.eventsRejected) || 0);
  } catch {
    return 0;
  }
}
