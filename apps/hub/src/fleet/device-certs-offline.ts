import { userInfo } from "node:os";
import { isoNow } from "../clock.js";
import type { HubConfig } from "../config.js";
import { openDatabase } from "../db/open-database.js";
import { AuditLog } from "../people/audit-log.js";
import { recordDeviceCertificate } from "./device-certificates.js";
import { DeviceCertificateAuthority, deviceCaFiles, type IssuedCertificate } from "./device-certs.js";

/**
 * `kensa device certificate` without a hub to call, on the hub's machine: issues from the device
 * CA's key in the data dir (or `deviceCa`) and records the certificate and an audit entry in the
 * hub's database, as the API does, so the broker takes it and a revocation covers it. Throws
 * KENSA_ERR_DEVICE_NOT_FOUND or KENSA_ERR_DEVICE_REVOKED (the certificate is then recorded revoked).
 */
export async function issueDeviceCertificateOffline(
  config: HubConfig,
  deviceId: string,
  days: number,
): Promise<IssuedCertificate> {
  const store = await openDatabase(config);
  try {
    const ca = await DeviceCertificateAuthority.open(deviceCaFiles(config), {
      create: !config.mqtt.embedded.tls?.deviceCa,
    });
    const issued = await ca.issue(deviceId, days);
    await recordDeviceCertificate(store.db, {
      serial: issued.serial,
      device_id: deviceId,
      issued_at: isoNow(),
      not_after: issued.notAfter,
      revoked_at: null,
    });
    const device = await store.db
      .selectFrom("devices")
      .select("project_id")
      .where("id", "=", deviceId)
      .executeTakeFirstOrThrow();
    await new AuditLog(store.db).record({
      actor: cliActor(),
      actorKind: "system",
      action: "device.certificate_issue",
      target: { type: "device", id: deviceId },
      details: { projectId: device.project_id, serial: issued.serial, notAfter: issued.notAfter, keyMadeByHub: true },
    });
    return issued;
  } finally {
    await store.close();
  }
}

/** Who ran the CLI, as far as the machine says. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return "cli";
  }
}
