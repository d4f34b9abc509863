import { randomBytes } from "node:crypto";
import {
  type Device,
  type DeviceQuery,
  type EnrollDevice,
  type EnrolledDevice,
  isValidDeviceId,
  KensaError,
  type Reported,
  type SignedStatement,
  type Telemetry,
} from "@kensa/contracts";
import { type Kysely, sql } from "kysely";
import { isoNow } from "../clock.js";
import type { DevicesTable, HubDatabase } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { ProjectService } from "../projects/project-service.js";
import { recordShadowAgreement } from "../shadow/shadow-agreement-store.js";
import { recordSelfTests } from "./bundle-target-store.js";
import { revokeDeviceCertificates } from "./certificate-revocation.js";
import type { DeploymentService } from "./deployment-service.js";
import type { DesiredSync } from "./desired-sync.js";
import { DeviceAuth } from "./device-auth.js";
import { accountedOnDevice, missingEvents, toDevice } from "./device-lifecycle-row.js";
import type { BrokerAccounts } from "./ports.js";

// the row-to-API mapping lives beside the lifecycle; importers of this module keep finding it here
export { missingEvents, toDevice } from "./device-lifecycle-row.js";

/** The MQTT username of the hub's own client; no device may take it. */
export const HUB_MQTT_USERNAME = "kensa-hub";

export class DeviceService {
  #db: Kysely<HubDatabase>;
  #projects: ProjectService;
  #deployments: DeploymentService;
  #desired: DesiredSync;
  #urls: HubUrls;
  #auth: DeviceAuth;
  /** the broker's side of device credentials; null until the hub has a broker */
  #accounts: BrokerAccounts | null = null;
  /** device id → project id; devices are never deleted or moved, so this never goes stale */
  #projectOf = new Map<string, string>();
  #credentialsChanged: ((deviceId: string) => void) | null = null;
  #trustRoot: (() => Promise<SignedStatement>) | null = null;

  constructor(
    db: Kysely<HubDatabase>,
    projects: ProjectService,
    deployments: DeploymentService,
    desired: DesiredSync,
    urls: HubUrls,
    auth: DeviceAuth,
  ) {
    this.#db = db;
    this.#projects = projects;
    this.#deployments = deployments;
    this.#desired = desired;
    this.#urls = urls;
    this.#auth = auth;
  }

  /**
   * Called after a device's secret changed or it was revoked, once this process forgot what it
   * cached: other replicas of the hub must forget too (the hub passes it over its bus).
   */
  onCredentialsChanged(listener: (deviceId: string) => void): void {
    this.#credentialsChanged = listener;
  }

  /** Tells the broker of every later enrolment, rotation and revocation (null: none to tell). */
  attachAccounts(accounts: BrokerAccounts | null): void {
    this.#accounts = accounts;
  }

  /** The signed trust root an enrolled device is handed, so it verifies bundles from the start. */
  attachTrust(trustRoot: () => Promise<SignedStatement>): void {
    this.#trustRoot = trustRoot;
  }

  /** Creates the device and its secret; the reply (like a rotation's) is the only place a secret ever appears. */
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
      // the broker first: when it cannot take the account, no device exists. Should the insert
      // fail after it, the account keeps a password no one was shown; a new enrolment replaces it.
      await this.#accounts?.setSecret(id, secret);
      return this.#db.transaction().execute(async (trx) => {
        const now = isoNow();
        const inherited = await this.#deployments.inheritFor(trx, project.id, id, tags, now, input.arch ?? null);
        const row: DevicesTable = {
          id,
          name: input.name?.trim() || id,
          project_id: project.id,
          arch: input.arch ?? null,
          tags: JSON.stringify(tags),
          secret_hash: hash,
          secret_salt: salt,
          revoked_at: null,
          broker_account: null,
          presence: "never",
          last_seen_at: null,
          reported: null,
          telemetry: null,
          desired: inherited ? JSON.stringify(inherited.desired) : null,
          desired_rev: inherited?.rev ?? 0,
          created_at: now,
          events_stored: 0,
          events_max_seq: 0,
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
      ...(this.#trustRoot ? { trust: await this.#trustRoot() } : {}),
    };
  }

  /**
   * A new secret, returned once. The broker takes it first (so a broker that cannot be reached
   * changes nothing: KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE), then the hub stores its hash, forgets what it
   * cached and ends the device's live sessions. A revoked device is active again; its client
   * certificates, revoked with it or not, are revoked for good (a rotation says its credentials
   * are compromised): it needs new ones.
   */
  async rotateSecret(id: string): Promise<EnrolledDevice> {
    const current = await this.get(id);
    if (current.retiredAt) {
      throw new KensaError(
        "KENSA_ERR_DEVICE_RETIRED",
        `device "${id}" is retired; enroll its replacement as a new device`,
      );
    }
    const secret = DeviceAuth.newSecret();
    const { hash, salt } = await DeviceAuth.hash(secret);
    await this.#accounts?.setSecret(id, secret);
    const stored = await this.#db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable("devices")
        .set({ secret_hash: hash, secret_salt: salt, revoked_at: null, broker_account: null })
        .where("id", "=", id)
        // a retirement that raced this rotation wins: the device stays revoked
        .where("retired_at", "is", null)
        .executeTakeFirst();
      await revokeDeviceCertificates(trx, id, isoNow());
      return Number(res.numUpdatedRows) > 0;
    });
    if (!stored) {
      // the retirement disables the broker account it enabled above
      throw new KensaError("KENSA_ERR_DEVICE_RETIRED", `device "${id}" was retired meanwhile`);
    }
    this.#auth.forget(id);
    this.#credentialsChanged?.(id);
    await this.#accounts?.disconnect(id);
    return { ...this.#connectInfo(id), device: await this.get(id), secret };
  }

  /**
   * Revokes the device's credentials at once in the hub (HTTP and the embedded broker refuse it,
   * its live sessions end). A broker that keeps its own accounts is told after; until it
   * confirms, the device shows `brokerAccount: "pending"` and the broker's manager retries.
   * Revoking a revoked device keeps its first `revokedAt`. `retiredAt` retires it in the same
   * commit (DeviceLifecycle.retire).
   */
  async revoke(id: string, opts: { retiredAt?: string } = {}): Promise<Device> {
    const before = await this.get(id);
    const keeps = this.#accounts?.keepsAccounts ?? false;
    const at = before.revokedAt ?? isoNow();
    // one commit: the sessions end as soon as the change is stored
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable("devices")
        .set({
          revoked_at: at,
          ...(keeps ? { broker_account: "pending" } : {}),
          ...(opts.retiredAt ? { retired_at: opts.retiredAt } : {}),
        })
        .where("id", "=", id)
        .execute();
      await revokeDeviceCertificates(trx, id, at);
    });
    this.#auth.forget(id);
    this.#credentialsChanged?.(id);
    await this.#accounts?.disconnect(id);
    if (this.#accounts && keeps) {
      try {
        await this.#accounts.disable(id);
        await this.setBrokerAccount(id, null);
      } catch {
        // the manager logged it with its code and retries; the device shows "pending" meanwhile
      }
    }
    return this.get(id);
  }

  /**
   * After one of the device's credentials was revoked (a client certificate): this process and
   * every replica forget what they accepted of it, and its live sessions end.
   */
  async endSessions(id: string): Promise<void> {
    this.#auth.forget(id);
    this.#credentialsChanged?.(id);
    await this.#accounts?.disconnect(id);
  }

  /**
   * The device's credentials changed on another replica (the bus): forget what this one cached
   * (logins, accepted certificates) and end the device's sessions on this replica's embedded
   * broker. A broker that keeps accounts is shared, and the replica that made the change told it.
   */
  forgetCredentials(id: string): void {
    this.#auth.forget(id);
    if (this.#accounts && !this.#accounts.keepsAccounts) void this.#accounts.disconnect(id).catch(() => {});
  }

  /** Every device's credential state, for a broker manager's reconciliation. */
  async accountStates(): Promise<Array<{ id: string; revoked: boolean; brokerAccount: string | null }>> {
    const rows = await this.#db
      .selectFrom("devices")
      .select(["id", "revoked_at", "broker_account"])
      .orderBy("id")
      .execute();
    return rows.map((r) => ({ id: r.id, revoked: r.revoked_at !== null, brokerAccount: r.broker_account }));
  }

  /**
   * Records the device's account state on the managed broker. Clearing `pending` applies only
   * while the device is still revoked, so it never hides a later change.
   */
  async setBrokerAccount(id: string, state: "pending" | "needs_rotation" | null): Promise<void> {
    let q = this.#db.updateTable("devices").set({ broker_account: state }).where("id", "=", id);
    if (state === null)
      q = q.where((eb) => eb.or([eb("broker_account", "!=", "pending"), eb("revoked_at", "is not", null)]));
    await q.execute();
  }

  #connectInfo(id: string): Omit<EnrolledDevice, "device" | "secret"> {
    return {
      mqttUrl: this.#urls.mqtt,
      hubUrl: this.#urls.http,
      command: `kensa agent --hub ${this.#urls.http} --mqtt ${this.#urls.mqtt} --device ${id}`,
    };
  }

  /** Devices in service (`retired`: "include" adds retired ones, "only" lists them alone); never deleted ones. */
  async list(query: DeviceQuery = {}): Promise<Device[]> {
    let q = this.#db.selectFrom("devices").selectAll().where("deleted_at", "is", null).orderBy("id");
    if (query.projectId) q = q.where("project_id", "=", query.projectId);
    const retired = query.retired ?? "exclude";
    if (retired === "exclude") q = q.where("retired_at", "is", null);
    if (retired === "only") q = q.where("retired_at", "is not", null);
    return (await q.execute()).map(toDevice);
  }

  /** A device in service or retired; throws KENSA_ERR_DEVICE_NOT_FOUND (also for a deleted one). */
  async get(id: string): Promise<Device> {
    const row = await this.#db
      .selectFrom("devices")
      .selectAll()
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device with id "${id}"`);
    return toDevice(row);
  }

  /** The device's project when this process has looked it up before (no I/O). */
  projectOfCached(id: string): string | undefined {
    return this.#projectOf.get(id);
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
    // golden-frame self-tests are kept per bundle: the next report no longer carries a refused one
    await recordSelfTests(this.#db, id, reported);
    await recordShadowAgreement(this.#db, id, reported, seenAt);
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

  /** Every device's gap in its event sequence (see `Device.events`). */
  async missingEvents(): Promise<Array<{ deviceId: string; missing: number }>> {
    const rows = await this.#db
      .selectFrom("devices")
      .select(["id", "events_stored", "events_max_seq", "reported"])
      .where((eb) => eb("events_max_seq", ">", eb.ref("events_stored")))
      // a retired device's gap is history, not a delivery problem to chase
      .where("retired_at", "is", null)
      .execute();
    return rows.map((r) => {
      const reported = r.reported ? (JSON.parse(r.reported) as Reported) : null;
      return { deviceId: r.id, missing: missingEvents(r, accountedOnDevice(reported)) };
    });
  }

  /**
   * One statement per device for a whole ingest batch, inside the batch's transaction: when the
   * device was last seen, how many new events were stored and the highest seq among them.
   */
  async recordEvents(
    trx: Kysely<HubDatabase>,
    perDevice: ReadonlyMap<string, { stored: number; maxSeq: number }>,
    seenAt: string,
  ): Promise<void> {
    // one statement per chunk of devices (a statement per device cost more than the events
    // of a small batch); ids in one order, so replicas' batches lock rows in one order
    const rows = [...perDevice].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < rows.length; i += DEVICES_PER_UPDATE) {
      const values = sql.join(
        rows
          .slice(i, i + DEVICES_PER_UPDATE)
          .map(([id, d]) => sql`(${id}, CAST(${d.stored} AS BIGINT), CAST(${d.maxSeq} AS BIGINT))`),
      );
      await sql`WITH v(id, n, m) AS (VALUES ${values})
        UPDATE devices SET
          last_seen_at = ${seenAt},
          events_stored = events_stored + (SELECT n FROM v WHERE v.id = devices.id),
          events_max_seq = CASE
            WHEN events_max_seq < (SELECT m FROM v WHERE v.id = devices.id) THEN (SELECT m FROM v WHERE v.id = devices.id)
            ELSE events_max_seq END
        WHERE id IN (SELECT id FROM v)`.execute(trx);
    }
  }
}

/** devices per statement of `recordEvents` (3 bound values each) */
const DEVICES_PER_UPDATE = 300;
