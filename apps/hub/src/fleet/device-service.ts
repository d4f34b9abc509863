import { randomBytes } from "node:crypto";
import {
  type Device,
  type EnrollDevice,
  type EnrolledDevice,
  isValidDeviceId,
  KensaError,
  type Reported,
  type Telemetry,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { DevicesTable, HubDatabase } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { ProjectService } from "../projects/project-service.js";
import type { DeploymentService } from "./deployment-service.js";
import type { DesiredSync } from "./desired-sync.js";
import { DeviceAuth } from "./device-auth.js";

/** The MQTT username of the hub's own client; no device may take it. */
export const HUB_MQTT_USERNAME = "kensa-hub";

export class DeviceService {
  #db: Kysely<HubDatabase>;
  #projects: ProjectService;
  #deployments: DeploymentService;
  #desired: DesiredSync;
  #urls: HubUrls;
  /** device id → project id; devices are never deleted or moved, so this never goes stale */
  #projectOf = new Map<string, string>();

  constructor(
    db: Kysely<HubDatabase>,
    projects: ProjectService,
    deployments: DeploymentService,
    desired: DesiredSync,
    urls: HubUrls,
  ) {
    this.#db = db;
    this.#projects = projects;
    this.#deployments = deployments;
    this.#desired = desired;
    this.#urls = urls;
  }

  /** Creates the device and its secret; the reply is the only place the secret ever appears. */
  async enroll(input: EnrollDevice): Promise<EnrolledDevice> {
    const project = await this.#projects.get(input.projectId);
    const id = input.id ?? `${project.slug.slice(0, 48).replace(/-+$/, "")}-${randomBytes(4).toString("hex")}`;
    if (!isValidDeviceId(id) || id === HUB_MQTT_USERNAME) {
      throw new KensaError("KENSA_ERR_VALIDATION", `device id "${id}" is not allowed`, {
        issues: [{ path: "/id", message: `"${id}" is reserved or not a valid device id` }],
      });
    }
    const secret = DeviceAuth.newSecret();
    const { hash, salt } = await DeviceAuth.hash(secret);
    const tags = [...new Set(input.tags ?? [])];

    const row = await this.#deployments.exclusive(async () => {
      const exists = await this.#db.selectFrom("devices").select("id").where("id", "=", id).executeTakeFirst();
      if (exists) throw new KensaError("KENSA_ERR_DEVICE_EXISTS", `a device with id "${id}" already exists`);
      return this.#db.transaction().execute(async (trx) => {
        const now = isoNow();
        const inherited = await this.#deployments.inheritFor(trx, project.id, id, tags, now);
        const row: DevicesTable = {
          id,
          name: input.name?.trim() || id,
          project_id: project.id,
          arch: input.arch ?? null,
          tags: JSON.stringify(tags),
          secret_hash: hash,
          secret_salt: salt,
          presence: "never",
          last_seen_at: null,
          reported: null,
          telemetry: null,
          desired: inherited ? JSON.stringify(inherited.desired) : null,
          desired_rev: inherited?.rev ?? 0,
          created_at: now,
        };
        await trx.insertInto("devices").values(row).execute();
        return row;
      });
    });
    this.#projectOf.set(id, project.id);
    await this.#desired.sync([id]);
    return {
      device: toDevice(row),
      secret,
      mqttUrl: this.#urls.mqtt,
      hubUrl: this.#urls.http,
      command: `kensa agent --hub ${this.#urls.http} --mqtt ${this.#urls.mqtt} --device ${id}`,
    };
  }

  async list(query: { projectId?: string } = {}): Promise<Device[]> {
    let q = this.#db.selectFrom("devices").selectAll().orderBy("id");
    if (query.projectId) q = q.where("project_id", "=", query.projectId);
    return (await q.execute()).map(toDevice);
  }

  /** throws KENSA_ERR_DEVICE_NOT_FOUND */
  async get(id: string): Promise<Device> {
    const row = await this.#db.selectFrom("devices").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device with id "${id}"`);
    return toDevice(row);
  }

  /** The device's project, or null for an unknown device (hot path of ingest). */
  async projectOf(id: string): Promise<string | null> {
    const hit = this.#projectOf.get(id);
    if (hit) return hit;
    const row = await this.#db.selectFrom("devices").select("project_id").where("id", "=", id).executeTakeFirst();
    if (!row) return null;
    this.#projectOf.set(id, row.project_id);
    return row.project_id;
  }

  /** `seenAt` is omitted for "offline": a last will says when the broker noticed, not the device. */
  async setPresence(id: string, presence: "online" | "offline", seenAt?: string): Promise<void> {
    await this.#db
      .updateTable("devices")
      .set(seenAt ? { presence, last_seen_at: seenAt } : { presence })
      .where("id", "=", id)
      .execute();
  }

  async setReported(id: string, reported: Reported, seenAt: string): Promise<void> {
    await this.#db
      .updateTable("devices")
      .set({ reported: JSON.stringify(reported), last_seen_at: seenAt })
      .where("id", "=", id)
      .execute();
  }

  async setTelemetry(id: string, telemetry: Telemetry, seenAt: string): Promise<void> {
    await this.#db
      .updateTable("devices")
      .set({ telemetry: JSON.stringify(telemetry), last_seen_at: seenAt })
      .where("id", "=", id)
      .execute();
  }

  async touch(id: string, seenAt: string): Promise<void> {
    await this.#db.updateTable("devices").set({ last_seen_at: seenAt }).where("id", "=", id).execute();
  }
}

export function toDevice(row: Selectable<DevicesTable>): Device {
  return {
    id: row.id,
    name: row.name,
    projectId: row.project_id,
    arch: row.arch,
    tags: JSON.parse(row.tags) as string[],
    presence: row.presence as Device["presence"],
    lastSeenAt: row.last_seen_at,
    reported: row.reported ? (JSON.parse(row.reported) as Reported) : null,
    telemetry: row.telemetry ? (JSON.parse(row.telemetry) as Telemetry) : null,
    desiredRev: Number(row.desired_rev),
    createdAt: row.created_at,
  };
}
