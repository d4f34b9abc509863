import {
  type DeliveredDeviceConfig,
  type DeviceConfig,
  type DeviceConfigRevision,
  type DeviceConfigView,
  deviceConfigIssues,
  type Issue,
  KensaError,
  mergeDeviceConfig,
  type ProjectDeviceConfigView,
  type Reported,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { SerialQueue } from "../serial-queue.js";
import type { DesiredSync } from "./desired-sync.js";
import { append, deliveredConfigRef, latest, refreshDelivery, type Scope, toRevision } from "./device-config-store.js";

/**
 * Remote device configuration: a versioned config per device, over an optional versioned
 * default per project. Every write is checked against the agent config schema (the device's
 * config alone and merged over its project's default), kept as a revision, merged into what each
 * affected device is sent (with a per-device revision bumped only when the merge changes), and
 * published through the devices' desired state, which names the revision and its sha256.
 */
export class DeviceConfigService {
  readonly #db: Kysely<HubDatabase>;
  readonly #desired: DesiredSync;
  // revisions are numbered max+1: one writer at a time in this process
  readonly #writes = new SerialQueue();

  constructor(db: Kysely<HubDatabase>, desired: DesiredSync) {
    this.#db = db;
    this.#desired = desired;
  }

  async view(deviceId: string): Promise<DeviceConfigView> {
    const device = await this.#device(deviceId);
    await deliveredConfigRef(this.#db, deviceId);
    const [own, project, delivered] = await Promise.all([
      latest(this.#db, "device", deviceId),
      latest(this.#db, "project", device.project_id),
      this.#delivered(deviceId),
    ]);
    const reported = device.reported ? (JSON.parse(device.reported) as Reported) : null;
    return {
      deviceId,
      projectId: device.project_id,
      device: own,
      project,
      delivered,
      applied: reported?.config ?? null,
    };
  }

  /** Sets a device's own config: a new revision, sent at once when its merge changed. */
  async setDevice(
    deviceId: string,
    config: DeviceConfig,
    meta: { comment?: string | undefined; actor: string | null },
  ): Promise<{ view: DeviceConfigView; revision: DeviceConfigRevision; deliveredRev: number | null }> {
    const device = await this.#device(deviceId);
    const result = await this.#writes.run(() =>
      this.#db.transaction().execute(async (trx) => {
        const project = await latest(trx, "project", device.project_id);
        refuseInvalid(deviceConfigIssues(config));
        refuseInvalid(
          deviceConfigIssues(mergeDeviceConfig(project?.config ?? {}, config)),
          "merged over the project default",
        );
        const revision = await append(trx, "device", deviceId, config, meta);
        const delivered = await refreshDelivery(trx, deviceId, project?.config ?? null, config);
        return { revision, deliveredRev: delivered };
      }),
    );
    await this.#desired.sync([deviceId]);
    return { ...result, view: await this.view(deviceId) };
  }

  /** Sets a project's default: a new revision; every device of the project whose merge changed is sent it. */
  async setProject(
    projectId: string,
    config: DeviceConfig,
    meta: { comment?: string | undefined; actor: string | null },
  ): Promise<{ view: ProjectDeviceConfigView; changedDevices: string[] }> {
    await this.#project(projectId);
    refuseInvalid(deviceConfigIssues(config));
    const changed = await this.#writes.run(() =>
      this.#db.transaction().execute(async (trx) => {
        const devices = await trx.selectFrom("devices").select("id").where("project_id", "=", projectId).execute();
        const owns = new Map<string, DeviceConfig | null>();
        for (const { id } of devices) {
          const own = (await latest(trx, "device", id))?.config ?? null;
          owns.set(id, own);
          const issues = own ? deviceConfigIssues(mergeDeviceConfig(config, own)) : [];
          refuseInvalid(issues, `merged under the config of device "${id}"`);
        }
        await append(trx, "project", projectId, config, meta);
        const ids: string[] = [];
        for (const [id, own] of owns) if ((await refreshDelivery(trx, id, config, own)) !== null) ids.push(id);
        return ids;
      }),
    );
    if (changed.length > 0) await this.#desired.sync(changed);
    return { view: await this.projectView(projectId), changedDevices: changed };
  }

  async projectView(projectId: string): Promise<ProjectDeviceConfigView> {
    await this.#project(projectId);
    return { projectId, config: await latest(this.#db, "project", projectId) };
  }

  async history(scope: Scope, id: string, limit = 50): Promise<DeviceConfigRevision[]> {
    if (scope === "device") await this.#device(id);
    else await this.#project(id);
    const rows = await this.#db
      .selectFrom("device_config_revisions")
      .selectAll()
      .where("scope", "=", scope)
      .where("scope_id", "=", id)
      .orderBy("rev", "desc")
      .limit(limit)
      .execute();
    return rows.map(toRevision);
  }

  /** What the device is sent; 404 while neither it nor its project has a config. */
  async delivered(deviceId: string): Promise<DeliveredDeviceConfig> {
    await deliveredConfigRef(this.#db, deviceId);
    const found = await this.#delivered(deviceId);
    if (!found) throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `device "${deviceId}" has no remote config`);
    return found;
  }

  async #delivered(deviceId: string): Promise<DeliveredDeviceConfig | null> {
    const row = await this.#db
      .selectFrom("device_config_delivery")
      .selectAll()
      .where("device_id", "=", deviceId)
      .executeTakeFirst();
    return row ? { rev: row.rev, sha256: row.sha256, config: JSON.parse(row.config) as DeviceConfig } : null;
  }

  async #device(id: string) {
    const row = await this.#db
      .selectFrom("devices")
      .select(["id", "project_id", "reported"])
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device with id "${id}"`);
    return row;
  }

  async #project(id: string): Promise<void> {
    const row = await this.#db.selectFrom("projects").select("id").where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_PROJECT_NOT_FOUND", `no project with id "${id}"`);
  }
}

function refuseInvalid(issues: Issue[], context?: string): void {
  if (issues.length === 0) return;
  const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  const what = context ? `device config (${context})` : "device config";
  throw new KensaError("KENSA_ERR_DEVICE_CONFIG_INVALID", `${what} is invalid: ${list}`, { issues });
}
