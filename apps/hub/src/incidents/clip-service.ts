import { KensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { EarlyMedia } from "./early-media.js";
import { eventOwner } from "./event-service.js";
import { clipColumns } from "./incident-service.js";

/** The video containers the agent writes (see the agent's clip encoder). */
export const clipTypes = ["video/mp4", "video/x-msvideo"] as const;
export type ClipType = (typeof clipTypes)[number];

export interface ClipMeta {
  durationMs?: number;
  frames?: number;
}

export interface ClipOutcome {
  sha256: string;
  size: number;
}

/**
 * Incident clips: the seconds of video around an incident frame that a device with a video
 * source records and uploads. Stored like frames, by (event id, uploading device), so a clip
 * that overtakes its event is joined when the event's incident is raised; a device can never
 * attach a clip to another device's event.
 */
export class ClipService {
  readonly #db: Kysely<HubDatabase>;
  readonly #blobs: BlobStore;
  readonly #earlyMedia: EarlyMedia;

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore, earlyMedia = new EarlyMedia(db)) {
    this.#db = db;
    this.#blobs = blobs;
    this.#earlyMedia = earlyMedia;
  }

  /** Checks the container, stores the bytes and links them (KENSA_ERR_MEDIA_INVALID, KENSA_ERR_FORBIDDEN, KENSA_ERR_EVENT_NOT_FOUND). */
  async attach(
    deviceId: string | null,
    eventId: string,
    contentType: string,
    bytes: Uint8Array,
    meta: ClipMeta = {},
  ): Promise<ClipOutcome> {
    const kind = sniffVideo(bytes);
    if (!kind || kind !== contentType) {
      throw new KensaError(
        "KENSA_ERR_MEDIA_INVALID",
        kind ? `the body is ${kind} but was sent as ${contentType}` : "the body is not an MP4 or AVI video",
      );
    }
    const { event, owner } = await eventOwner(this.#db, deviceId, eventId);
    if (!event) await this.#earlyMedia.admit(owner, eventId, "clip");

    const { sha256, size } = await this.#blobs.put(bytes);
    const row = {
      sha256,
      content_type: kind,
      size,
      duration_ms: meta.durationMs ?? null,
      frames: meta.frames ?? null,
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto("event_clips")
        .values({ event_id: eventId, device_id: owner, ...row, created_at: isoNow() })
        .onConflict((oc) => oc.columns(["event_id", "device_id"]).doUpdateSet(row))
        .execute();
      await trx
        .updateTable("incidents")
        .set(clipColumns(row))
        .where("event_id", "=", eventId)
        .where("device_id", "=", owner)
        .execute();
    });
    return { sha256, size };
  }
}

/** The container of a clip from its first bytes: MP4 (`ftyp` box) or AVI (`RIFF….AVI `). */
export function sniffVideo(b: Uint8Array): ClipType | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(4, 8) === "ftyp") return "video/mp4";
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "AVI ") return "video/x-msvideo";
  return null;
}
