import {
  type DeviceCertificate,
  type IssueDeviceCertificate,
  type IssuedDeviceCertificate,
  KensaError,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { DeviceCertificatesTable, HubDatabase } from "../db/schema.js";
import { type DeviceCertificateAuthority, normalizeSerial } from "./device-certs.js";
import { type CheckedCsr, checkCsr } from "./device-csr.js";
import type { DeviceService } from "./device-service.js";

/** A request checked before anything is written: the CA is there and a CSR verifies. */
export interface PreparedIssue {
  ca: DeviceCertificateAuthority;
  csr: CheckedCsr | null;
  days: number;
}

/**
 * Device client certificates through the API: issued from a device's CSR (its key never leaves
 * it) or with a key pair made once, each recorded with its serial. The embedded broker takes a
 * certificate only while its record names the device and is not revoked (DeviceAuth), so a
 * certificate can be revoked alone, and revoking a device or rotating its secret revokes all of
 * its certificates for good.
 */
export class DeviceCertificateService {
  #db: Kysely<HubDatabase>;
  #ca: () => DeviceCertificateAuthority | null;
  #devices: Pick<DeviceService, "get" | "endSessions">;

  constructor(
    db: Kysely<HubDatabase>,
    ca: () => DeviceCertificateAuthority | null,
    devices: Pick<DeviceService, "get" | "endSessions">,
  ) {
    this.#db = db;
    this.#ca = ca;
    this.#devices = devices;
  }

  /**
   * Checks a request without writing: the device CA exists (KENSA_ERR_DEVICE_CA_DISABLED), the
   * request names one form, and a CSR verifies and names `deviceId` or no one (KENSA_ERR_CSR_INVALID).
   * Without `deviceId` (an enrolment that generates the id) a CSR must name no one.
   */
  async prepare(req: IssueDeviceCertificate, deviceId?: string): Promise<PreparedIssue> {
    const ca = this.#ca();
    if (!ca) {
      throw new KensaError(
        "KENSA_ERR_DEVICE_CA_DISABLED",
        "the embedded broker takes no client certificates: set mqtt.embedded.tls.clientCertificates to optional or required",
      );
    }
    if (!!req.csr === !!req.generateKey) {
      throw new KensaError("KENSA_ERR_VALIDATION", "give either csr or generateKey: true", {
        issues: [{ path: "/csr", message: "exactly one of csr and generateKey" }],
      });
    }
    const csr = req.csr ? await checkCsr(req.csr) : null;
    if (csr?.commonName != null && csr.commonName !== deviceId) {
      throw new KensaError(
        "KENSA_ERR_CSR_INVALID",
        `certificate signing request: its CN "${csr.commonName}" is not the device id${deviceId ? ` "${deviceId}"` : " (give the id, or leave the CN out)"}`,
        { reason: "cn", commonName: csr.commonName },
      );
    }
    return { ca, csr, days: req.days ?? 825 };
  }

  /** Issues and records a certificate; throws KENSA_ERR_DEVICE_NOT_FOUND, KENSA_ERR_DEVICE_REVOKED. */
  async issue(deviceId: string, req: IssueDeviceCertificate | PreparedIssue): Promise<IssuedDeviceCertificate> {
    const device = await this.#devices.get(deviceId);
    if (device.revokedAt !== null) throw revoked(deviceId);
    const p = "ca" in req ? req : await this.prepare(req, deviceId);
    const made = p.csr
      ? { ...(await p.ca.sign(deviceId, p.csr.publicKey, p.days)), key: undefined }
      : await p.ca.issue(deviceId, p.days);
    const row: DeviceCertificatesTable = {
      serial: made.serial,
      device_id: deviceId,
      issued_at: isoNow(),
      not_after: made.notAfter,
      revoked_at: null,
    };
    await recordDeviceCertificate(this.#db, row);
    const chain = [made.cert.trim(), p.ca.intermediatePem?.trim()].filter(Boolean).join("\n");
    return {
      certificate: toCertificate(row),
      chain: `${chain}\n`,
      ca: p.ca.certPem,
      ...(made.key ? { key: made.key } : {}),
    };
  }

  /** Newest first; throws KENSA_ERR_DEVICE_NOT_FOUND. */
  async list(deviceId: string): Promise<DeviceCertificate[]> {
    await this.#devices.get(deviceId);
    const rows = await this.#db
      .selectFrom("device_certificates")
      .selectAll()
      .where("device_id", "=", deviceId)
      .orderBy("issued_at", "desc")
      .orderBy("serial")
      .execute();
    return rows.map(toCertificate);
  }

  /**
   * Revokes one certificate (again: keeps its first `revokedAt`); every replica forgets the
   * device's accepted certificates and its live sessions end (it may come back with another).
   */
  async revoke(deviceId: string, serial: string): Promise<DeviceCertificate> {
    await this.#devices.get(deviceId);
    const wanted = normalizeSerial(serial);
    const q = () =>
      this.#db
        .selectFrom("device_certificates")
        .selectAll()
        .where("serial", "=", wanted)
        .where("device_id", "=", deviceId)
        .executeTakeFirst();
    const row = await q();
    if (!row) {
      throw new KensaError(
        "KENSA_ERR_DEVICE_CERTIFICATE_NOT_FOUND",
        `no certificate with serial ${serial} was issued to "${deviceId}"`,
      );
    }
    if (row.revoked_at === null) {
      await this.#db
        .updateTable("device_certificates")
        .set({ revoked_at: isoNow() })
        .where("serial", "=", wanted)
        .where("revoked_at", "is", null)
        .execute();
      await this.#devices.endSessions(deviceId);
    }
    return toCertificate((await q()) ?? row);
  }
}

/**
 * Records an issued certificate. Should the device have been revoked meanwhile (its
 * certificates revoked before this row existed), the row is revoked too and
 * KENSA_ERR_DEVICE_REVOKED thrown, so a later rotation cannot bring it to life.
 */
export async function recordDeviceCertificate(db: Kysely<HubDatabase>, row: DeviceCertificatesTable): Promise<void> {
  await db.insertInto("device_certificates").values(row).execute();
  const device = await db.selectFrom("devices").select("revoked_at").where("id", "=", row.device_id).executeTakeFirst();
  if (device && device.revoked_at === null) return;
  await db.updateTable("device_certificates").set({ revoked_at: isoNow() }).where("serial", "=", row.serial).execute();
  throw device
    ? revoked(row.device_id)
    : new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device with id "${row.device_id}"`);
}

function revoked(deviceId: string): KensaError {
  return new KensaError(
    "KENSA_ERR_DEVICE_REVOKED",
    `device "${deviceId}" is revoked; rotate its secret to enable it, then issue a certificate`,
  );
}

function toCertificate(row: Selectable<DeviceCertificatesTable>): DeviceCertificate {
  return {
    serial: row.serial,
    deviceId: row.device_id,
    issuedAt: row.issued_at,
    notAfter: row.not_after,
    revokedAt: row.revoked_at,
  };
}
