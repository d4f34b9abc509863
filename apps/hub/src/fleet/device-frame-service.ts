import { createHash } from "node:crypto";
import { KensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";

export interface DeviceFrame {
  contentType: string;
  bytes: Uint8Array;
  sha256: string;
  receivedAt: string;
}

/**
 * The latest frame of each device, for the console's device page. One row per device,
 * overwritten by each upload: agents send a thumbnail every few seconds, and the
 * content-addressed blob store keeps everything forever.
 */
export class DeviceFrameService {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  async put(deviceId: string, contentType: string, bytes: Uint8Array): Promise<{ sha256: string; size: number }> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const row = {
      device_id: deviceId,
      content_type: contentType,
      sha256,
      size: bytes.byteLength,
      bytes,
      received_at: isoNow(),
    };
    await this.#db
      .insertInto("device_frames")
      .values(row)
      .onConflict((oc) =>
        oc.column("device_id").doUpdateSet({
          content_type: row.content_type,
          sha256: row.sha256,
          size: row.size,
          bytes: row.bytes,
          received_at: row.received_at,
        }),
      )
      .execute();
    return { sha256, size: bytes.byteLength };
  }

  /** throws KENSA_ERR_DEVICE_FRAME_NOT_FOUND, KENSA_ERR_BLOB_CORRUPT */
  async get(deviceId: string): Promise<DeviceFrame> {
    const row = await this.#db
      .selectFrom("device_frames")
      .select(["content_type", "bytes", "sha256", "received_at"])
      .where("device_id", "=", deviceId)
      .executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_DEVICE_FRAME_NOT_FOUND", `device ${deviceId} has not sent a frame yet`);
    // stored with its hash: a row changed on disk is refused, and the device's next upload replaces it
    if (createHash("sha256").update(row.bytes).digest("hex") !== row.sha256) {
      throw new KensaError(
        "KENSA_ERR_BLOB_CORRUPT",
        `the stored frame of device ${deviceId} does not match its sha256`,
      );
    }
    return { contentType: row.content_type, bytes: row.bytes, sha256: row.sha256, receivedAt: row.received_at };
  }
}
