import type { Desired } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { type RolloutConfig, RolloutConfigSchema, spreadMsFor } from "../config/rollout-config.js";
import type { HubDatabase } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { Logger } from "../logger.js";
import { SerialQueue } from "../serial-queue.js";
import { emptyDesired, renderDesired, type StoredDesired } from "./desired-state.js";
import { deliveredConfigRef } from "./device-config-store.js";

/** Where desired state goes: the hub's MQTT connection (retained, QoS 1). */
export interface DesiredPublisher {
  readonly connected: boolean;
  publishDesired(deviceId: string, desired: Desired): Promise<void>;
}

/**
 * Publishes devices' desired state from the database. Every publish re-reads the row inside
 * one serial queue, so a full re-publish racing a deployment can never leave an older
 * revision as the retained message.
 */
export class DesiredSync {
  #db: Kysely<HubDatabase>;
  #urls: HubUrls;
  #log: Logger;
  #queue = new SerialQueue();
  #publisher: DesiredPublisher | null = null;
  #rollout: RolloutConfig;

  constructor(db: Kysely<HubDatabase>, urls: HubUrls, log: Logger, rollout?: RolloutConfig) {
    this.#db = db;
    this.#urls = urls;
    this.#log = log;
    this.#rollout = rollout ?? defaultRollout();
  }

  attach(publisher: DesiredPublisher | null): void {
    this.#publisher = publisher;
  }

  /**
   * The message a device should hold now; `spreadMs` (the window a rollout's downloads start
   * in) rides on each bundle it names.
   */
  async desiredOf(deviceId: string, spreadMs = 0): Promise<Desired | null> {
    const row = await this.#db
      .selectFrom("devices")
      .select(["desired", "desired_rev", "created_at"])
      .where("id", "=", deviceId)
      .executeTakeFirst();
    if (!row) return null;
    const stored = row.desired ? (JSON.parse(row.desired) as StoredDesired) : emptyDesired(row.created_at);
    const desired = withSpread(renderDesired(stored, row.desired_rev, this.#urls.http), spreadMs);
    // the remote config travels by reference (rev, sha256): the device fetches it over HTTP
    const config = await deliveredConfigRef(this.#db, deviceId);
    return config ? { ...desired, config } : desired;
  }

  /**
   * Publishes the current desired state of these devices (or all). Without a connection it
   * does nothing: the hub re-publishes everything when its client (re)connects.
   */
  sync(deviceIds: readonly string[] | "all"): Promise<void> {
    return this.#queue.run(async () => {
      const pub = this.#publisher;
      if (!pub?.connected) return;
      const ids =
        deviceIds === "all"
          ? (
              await this.#db.selectFrom("devices").select("id").where("deleted_at", "is", null).orderBy("id").execute()
            ).map((r) => r.id)
          : deviceIds;
      // sent in order on one connection, acknowledged together: a slow broker costs one wait, not one per device
      const acks: Array<Promise<void>> = [];
      // the more devices one publish reaches, the wider the window their downloads start in
      const spreadMs = spreadMsFor(ids.length, this.#rollout);
      for (const id of ids) {
        const desired = await this.desiredOf(id, spreadMs);
        if (!desired) continue;
        acks.push(
          pub.publishDesired(id, desired).catch((err: unknown) => {
            this.#log.warn({ deviceId: id, err: (err as Error).message }, "publishing desired state failed");
          }),
        );
      }
      await Promise.all(acks);
      if (deviceIds === "all") this.#log.info({ devices: ids.length }, "desired state published");
    });
  }

  idle(): Promise<void> {
    return this.#queue.idle();
  }
}

function defaultRollout(): RolloutConfig {
  return {
    startsPerSecond: RolloutConfigSchema.properties.startsPerSecond.default,
    maxSpreadSeconds: RolloutConfigSchema.properties.maxSpreadSeconds.default,
    tickSeconds: RolloutConfigSchema.properties.tickSeconds.default,
  };
}

/** Puts the spread window on every bundle the message names (a device uses it only to download). */
function withSpread(desired: Desired, spreadMs: number): Desired {
  if (spreadMs <= 0) return desired;
  return {
    ...desired,
    pipelines: desired.pipelines.map((p) => ({
      ...p,
      ...(p.bundle ? { bundle: { ...p.bundle, spreadMs } } : {}),
      ...(p.shadow ? { shadow: { ...p.shadow, spreadMs } } : {}),
    })),
  };
}
