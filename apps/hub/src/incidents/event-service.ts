import { KensaError, type StoredEvent } from "@kensa/contracts";
import { sniffImage } from "@kensa/vision";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { probeImageWithin } from "../limits/image-gate.js";
import type { ProjectService } from "../projects/project-service.js";
import { EarlyMedia } from "./early-media.js";
import { type EventQuery, listEvents, toStoredEvent } from "./event-queries.js";
import type { IncidentService } from "./incident-service.js";
import type { Page } from "./keyset-cursor.js";
import type { EventMediaLinks, IncidentAlerts } from "./ports.js";

export type { EventQuery } from "./event-queries.js";

export interface MediaOutcome {
  sha256: string;
  size: number;
  /** true when the event is already here and now points at the media */
  linked: boolean;
}

/** Stores inference events idempotently and turns them into incidents and notifications. */
export class EventService {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #projects: ProjectService;
  #incidents: IncidentService;
  #alerts: IncidentAlerts;
  #mediaLinks: EventMediaLinks;
  #earlyMedia: EarlyMedia;

  constructor(deps: {
    db: Kysely<HubDatabase>;
    blobs: BlobStore;
    projects: ProjectService;
    incidents: IncidentService;
    /** plans the notifications of each new incident (notify) */
    alerts: IncidentAlerts;
    /** gives a late frame to the event's sample (datasets) */
    mediaLinks: EventMediaLinks;
    /** bounds on frames that arrive before their event */
    earlyMedia?: EarlyMedia;
  }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#projects = deps.projects;
    this.#incidents = deps.incidents;
    this.#alerts = deps.alerts;
    this.#mediaLinks = deps.mediaLinks;
    this.#earlyMedia = deps.earlyMedia ?? new EarlyMedia(deps.db);
  }

  /**
   * Points an event and its incident at media stored for it. Run after each side commits: under
   * PostgreSQL's read committed, an upload and its event committing at the same time do not see
   * each other inside their transactions, but whichever commits last sees both here.
   */
  async #linkMedia(eventId: string, deviceId: string): Promise<void> {
    const media = await this.#db
      .selectFrom("event_media")
      .select("sha256")
      .where("event_id", "=", eventId)
      .where("device_id", "=", deviceId)
      .executeTakeFirst();
    if (!media) return;
    await this.#db
      .updateTable("events")
      .set({ media_sha256: media.sha256 })
      .where("id", "=", eventId)
      .where("device_id", "=", deviceId)
      .where("media_sha256", "is", null)
      .execute();
    await this.#db
      .updateTable("incidents")
      .set({ media_sha256: media.sha256 })
      .where("event_id", "=", eventId)
      .where("device_id", "=", deviceId)
      .where("media_sha256", "is", null)
      .execute();
  }

  /** One page of events (see `listEvents`); throws KENSA_ERR_VALIDATION for a bad cursor or time. */
  list(query: EventQuery): Promise<Page<StoredEvent>> {
    return listEvents(this.#db, query);
  }

  /** throws KENSA_ERR_EVENT_NOT_FOUND */
  async get(id: string): Promise<StoredEvent> {
    const row = await this.#db.selectFrom("events").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_EVENT_NOT_FOUND", `no event with id "${id}"`);
    return toStoredEvent(row);
  }

  /**
   * Stores a frame for an event of `deviceId`. The upload may race ahead of the event over
   * MQTT, so it is kept under (event id, device) and joined when the event arrives; a device
   * can never attach media to another device's event.
   */
  async attachMedia(
    deviceId: string | null,
    eventId: string,
    contentType: string,
    bytes: Uint8Array,
  ): Promise<MediaOutcome> {
    const kind = sniffImage(bytes);
    if (!kind || kind !== contentType) {
      throw new KensaError(
        "KENSA_ERR_MEDIA_INVALID",
        kind ? `the body is ${kind} but was sent as ${contentType}` : "the body is not a complete JPEG or PNG image",
      );
    }
    // markers can frame a corrupt body; only a full decode proves the frame is usable
    const info = await probeImageWithin(bytes);
    const { event, owner } = await eventOwner(this.#db, deviceId, eventId);
    if (!event) await this.#earlyMedia.admit(owner, eventId, "frame");

    const { sha256, size } = await this.#blobs.put(bytes);
    const now = isoNow();
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto("event_media")
        .values({ event_id: eventId, device_id: owner, sha256, content_type: kind, size, created_at: now })
        .onConflict((oc) => oc.columns(["event_id", "device_id"]).doUpdateSet({ sha256, content_type: kind, size }))
        .execute();
      if (event) {
        await trx.updateTable("events").set({ media_sha256: sha256 }).where("id", "=", eventId).execute();
        await trx.updateTable("incidents").set({ media_sha256: sha256 }).where("event_id", "=", eventId).execute();
        await this.#mediaLinks.attachEventMedia(trx, { eventId, deviceId: event.device_id, sha256, info });
      }
    });
    if (!event) {
      await this.#linkMedia(eventId, owner);
      // the event may have committed (and been judged) meanwhile: its sample gets the frame too
      await this.#mediaLinks.attachEventMedia(this.#db, { eventId, deviceId: owner, sha256, info });
    }
    return { sha256, size, linked: !!event };
  }

  /** The stored frame of an event, with its content type. */
  async mediaOf(eventId: string): Promise<{ sha256: string; contentType: string } | null> {
    const row = await this.#db
      .selectFrom("events")
      .innerJoin("event_media", (j) =>
        j.onRef("event_media.event_id", "=", "events.id").onRef("event_media.device_id", "=", "events.device_id"),
      )
      .select(["event_media.sha256", "event_media.content_type"])
      .where("events.id", "=", eventId)
      .executeTakeFirst();
    return row ? { sha256: row.sha256, contentType: row.content_type } : null;
  }
}

/**
 * Whose event an upload (frame, clip) is for: the calling device's — refused when a stored
 * event of that id belongs to another device — or, for a person repairing data, the stored
 * event's. The event may not be stored yet (uploads can overtake MQTT). Throws
 * KENSA_ERR_FORBIDDEN, KENSA_ERR_EVENT_NOT_FOUND.
 */
export async function eventOwner(
  db: Kysely<HubDatabase>,
  deviceId: string | null,
  eventId: string,
): Promise<{ event: { id: string; device_id: string } | undefined; owner: string }> {
  const event = await db.selectFrom("events").select(["id", "device_id"]).where("id", "=", eventId).executeTakeFirst();
  if (event && deviceId && event.device_id !== deviceId) {
    throw new KensaError("KENSA_ERR_FORBIDDEN", `event ${eventId} belongs to another device`);
  }
  const owner = deviceId ?? event?.device_id;
  if (!owner) throw new KensaError("KENSA_ERR_EVENT_NOT_FOUND", `no event with id "${eventId}"`);
  return { event, owner };
}
