import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** Revokes every certificate of the device not revoked yet (a device revocation or a rotation of its secret). */
export async function revokeDeviceCertificates(db: Kysely<HubDatabase>, deviceId: string, at: string): Promise<void> {
  await db
    .updateTable("device_certificates")
    .set({ revoked_at: at })
    .where("device_id", "=", deviceId)
    .where("revoked_at", "is", null)
    .execute();
}
