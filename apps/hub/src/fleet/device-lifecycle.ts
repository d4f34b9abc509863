import { type Device, KensaError, type UpdateDevice } from "@kensa/contracts";
import { type Kysely, sql } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { DeploymentService } from "./deployment-service.js";
import type { DesiredSync } from "./desired-sync.js";
import { type AppliedDeployment, applyTagChange } from "./device-lifecycle-tags.js";
import type { DeviceService } from "./device-service.js";

/** What an edit changed, for the reply and the audit log. */
export interface DeviceEdit {
  device: Device;
  /** field → { from, to }, only the fields that changed */
  changes: Record<string, { from: unknown; to: unknown }>;
  applied: AppliedDeployment[];
}

/** What a deletion removed and kept, for the audit log. */
export interface DeviceDeletion {
  device: Device;
  deletedAt: string;
  /** the latest frame stayed because a legal hold names the device */
  frameKept: boolean;
  certificatesDeleted: number;
}

/**
 * A device's life after enrolment: edits (name, description, tags, with the tag deployments a
 * tag change selects), retirement and deletion. Credentials (rotation, revocation) stay with
 * DeviceService, which this calls to end a device's access everywhere.
 */
export class DeviceLifecycle {
  #db: Kysely<HubDatabase>;
  #devices: DeviceService;
  #deployments: DeploymentService;
  #desired: DesiredSync;

  constructor(db: Kysely<HubDatabase>, devices: DeviceService, deployments: DeploymentService, desired: DesiredSync) {
    this.#db = db;
    this.#devices = devices;
    this.#deployments = deployments;
    this.#desired = desired;
  }

  /**
   * Changes name, description and tags. A tag change of a device in service re-evaluates its
   * tag deployments (see applyTagChange); a retired device's tags are only recorded.
   * Throws KENSA_ERR_DEVICE_NOT_FOUND, KENSA_ERR_VALIDATION (`tags` with `addTags`/`removeTags`).
   */
  async update(id: string, input: UpdateDevice): Promise<DeviceEdit> {
    if (input.tags && (input.addTags || input.removeTags)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "give either tags (the whole set) or addTags/removeTags", {
        issues: [{ path: "/tags", message: "tags cannot be combined with addTags or removeTags" }],
      });
    }
    // one at a time with deployments: a tag change must see every deployment made before it
    const result = await this.#deployments.exclusive(async () => {
      const before = await this.#devices.get(id);
      const tags = nextTags(before.tags, input);
      const description = input.description === undefined ? before.description : input.description?.trim() || null;
      const name = input.name?.trim() || before.name;
      const changes: DeviceEdit["changes"] = {};
      if (name !== before.name) changes.name = { from: before.name, to: name };
      if (description !== before.description) changes.description = { from: before.description, to: description };
      const tagsChanged = tags.join("\n") !== [...new Set(before.tags)].sort().join("\n");
      if (tagsChanged) changes.tags = { from: before.tags, to: tags };
      if (Object.keys(changes).length === 0) return { changes, applied: [] };
      const applied = await this.#db.transaction().execute(async (trx) => {
        await trx
          .updateTable("devices")
          .set({ name, description, tags: JSON.stringify(tags) })
          .where("id", "=", id)
          .execute();
        if (!tagsChanged || before.retiredAt) return [];
        return applyTagChange(trx, { id, projectId: before.projectId }, before.tags, tags, isoNow());
      });
      return { changes, applied };
    });
    if (result.applied.length > 0) await this.#desired.sync([id]);
    return { device: await this.#devices.get(id), ...result };
  }

  /**
   * Takes the device out of service for good: marked retired, then revoked as by
   * DeviceService.revoke (its credentials and certificates refused on every replica and broker,
   * its sessions ended). Its history stays. Retiring a retired device changes nothing.
   */
  async retire(id: string): Promise<Device> {
    const before = await this.#devices.get(id);
    if (before.retiredAt) return before;
    // retired and revoked in one commit: a rotation racing this one stores nothing (it only
    // updates a device that is not retired) and is refused when it looks again
    return this.#devices.revoke(id, { retiredAt: isoNow() });
  }

  /**
   * Deletes a retired device, or one that never connected (revoked first). Its secret, tags,
   * reported state, telemetry, desired state, client certificates and latest frame go (the frame
   * stays while a legal hold names the device); a tombstone of the row (id, project, name,
   * dates) stays, so events, incidents and media keep a known device, retention keeps sweeping
   * them, and the id is never enrolled again. Throws KENSA_ERR_DEVICE_NOT_RETIRED.
   */
  async remove(id: string): Promise<DeviceDeletion> {
    const device = await this.#devices.get(id);
    const neverConnected = device.presence === "never" && device.lastSeenAt === null && device.events.stored === 0;
    if (!device.retiredAt && !neverConnected) {
      throw new KensaError(
        "KENSA_ERR_DEVICE_NOT_RETIRED",
        `device "${id}" is in service and has connected; retire it before deleting it`,
      );
    }
    if (!device.revokedAt) await this.#devices.revoke(id);
    const deletedAt = isoNow();
    const { frameKept, certificatesDeleted } = await this.#db.transaction().execute(async (trx) => {
      const held = await sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM legal_holds
        WHERE scope = 'device' AND target_id = ${id} AND released_at IS NULL`.execute(trx);
      const frameKept = Number(held.rows[0]?.n ?? 0) > 0;
      if (!frameKept) await trx.deleteFrom("device_frames").where("device_id", "=", id).execute();
      const certs = await trx.deleteFrom("device_certificates").where("device_id", "=", id).executeTakeFirst();
      await trx.deleteFrom("auth_lockouts").where("key", "=", `device:${id}`).execute();
      await trx
        .updateTable("devices")
        .set({
          deleted_at: deletedAt,
          retired_at: device.retiredAt ?? deletedAt,
          // a value no secret hashes to: the row can never authenticate again
          secret_hash: "deleted",
          secret_salt: "",
          tags: "[]",
          description: null,
          reported: null,
          telemetry: null,
          desired: null,
          presence: "offline",
        })
        .where("id", "=", id)
        .execute();
      return { frameKept, certificatesDeleted: Number(certs.numDeletedRows) };
    });
    // every replica forgets what it cached of the device (already refused: revoked)
    await this.#devices.endSessions(id);
    return { device, deletedAt, frameKept, certificatesDeleted };
  }
}

/** The tag set an edit asks for: sorted, without duplicates. */
function nextTags(current: readonly string[], input: UpdateDevice): string[] {
  let tags = input.tags ? [...input.tags] : [...current];
  if (input.addTags) tags.push(...input.addTags);
  if (input.removeTags) {
    const drop = new Set(input.removeTags);
    tags = tags.filter((t) => !drop.has(t));
  }
  return [...new Set(tags)].sort();
}
