import {
  type Desired,
  devicePublishChannels,
  type EventAcks,
  HUB_TOPIC_ROOT,
  KensaError,
  topics,
} from "@kensa/contracts";
import mqtt, { type IPublishPacket, type MqttClient } from "mqtt";
import type { DesiredPublisher } from "../fleet/desired-sync.js";
import type { ClientTlsMaterial } from "../http/tls.js";
import type { Logger } from "../logger.js";
import type { AckSink } from "./ingest.js";

export interface HubMqttOptions {
  url: string;
  username?: string;
  password?: string;
  /** for `mqtts://`: CAs the broker's certificate must chain to, a client certificate, and whether to check it */
  tls?: ClientTlsMaterial & { rejectUnauthorized?: boolean };
  /**
   * Fixed per hub process (a replica's own name), so the broker keeps the session — the
   * subscriptions and what arrives while the hub is away — across the hub's reconnects and
   * restarts. Two processes with the same id take the session from each other.
   */
  clientId: string;
  /**
   * Subscribe through this shared-subscription group (`$share/<group>/…`) so replicas split the
   * devices' messages instead of each getting all; null for a plain subscription (the embedded
   * broker, one hub).
   */
  sharedGroup: string | null;
  /**
   * false when device messages reach the ingest another way (the embedded broker hands them
   * over as it authorizes them): the client then only publishes desired state and confirmations
   */
  subscribeDevices?: boolean;
  log: Logger;
  /**
   * every device message; returns nothing when it was taken at once, or a promise while the
   * ingest has no room (the PUBACK and the next read wait for it, briefly)
   */
  onMessage(topic: string, payload: Uint8Array): Promise<void> | undefined;
  /** after every (re)connect and subscription: the broker may have lost retained state */
  onConnected(): Promise<void>;
  /** ms a desired-state publish waits for its PUBACK before it counts as failed (default 10 s) */
  ackTimeoutMs?: number;
}

/** ms the shared-subscription probe waits for its own message */
const PROBE_TIMEOUT_MS = 3000;

/** ms to wait for the first connection before start() gives up */
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * The hub's own MQTT client, the same against the embedded broker or an external one. It keeps
 * a persistent session under a fixed client id, reads without waiting for storage (the ingest
 * queues and confirms to each device after its commit; see docs/delivery.md), and publishes
 * desired state and those confirmations.
 */
export class HubMqttClient implements DesiredPublisher, AckSink {
  #opts: HubMqttOptions;
  #client: MqttClient | null = null;
  /** publishes waiting for their PUBACK, each with how to fail it */
  #unacked = new Set<(err: Error) => void>();
  #shared = false;

  constructor(opts: HubMqttOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  async connect(): Promise<void> {
    const { url, username, password, log } = this.#opts;
    const client = mqtt.connect(url, {
      clientId: this.#opts.clientId,
      username,
      password,
      // A lone hub keeps a persistent session: the broker queues device messages while it is
      // away. Replicas in a shared group do not: a broker hands a dead member's persistent
      // session its share of new messages until it expires, which would hold back every
      // other event until its device sends it again. Devices keep what is unconfirmed anyway.
      clean: this.#opts.sharedGroup !== null,
      resubscribe: false,
      // a broker restarted without the hub's account yet (dynamic security repairing itself)
      // refuses the first attempts; keep trying instead of giving up for good
      reconnectOnConnackError: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      protocolVersion: 4,
      ...this.#opts.tls,
    });
    this.#client = client;
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      // the hub's own probe (see #subscribe) is not a device message
      if (packet.topic.startsWith(`${HUB_TOPIC_ROOT}/`)) return done();
      const wait = this.#opts.onMessage(packet.topic, payload);
      if (wait)
        wait.then(
          () => done(),
          () => done(),
        );
      else done();
    };
    client.on("error", (err) => {
      // while closing, an acknowledgement of a message still being handled may meet the ended stream
      if (this.#client !== client) log.debug({ err: err.message }, "hub mqtt client error while closing");
      else log.warn({ err: err.message }, "hub mqtt client error");
    });
    client.on("offline", () => log.warn({}, "hub mqtt client offline; reconnecting"));

    let first: ((err?: Error) => void) | null = null;
    const firstConnect = new Promise<void>((resolve, reject) => {
      first = (err) => (err ? reject(err) : resolve());
    });
    const settleFirst = (err?: Error) => {
      const f = first;
      first = null;
      f?.(err);
    };
    client.on("connect", () => {
      void (async () => {
        try {
          if (this.#opts.subscribeDevices !== false) await this.#subscribe(client);
          log.info({}, "hub mqtt client connected and subscribed");
          await this.#opts.onConnected();
          settleFirst();
        } catch (err) {
          log.error({ err: (err as Error).message }, "hub mqtt subscribe failed");
          settleFirst(err as Error);
        }
      })();
    });
    const timer = setTimeout(
      () => settleFirst(new KensaError("KENSA_ERR_INTERNAL", `cannot connect to the MQTT broker at ${url}`)),
      CONNECT_TIMEOUT_MS,
    );
    try {
      await firstConnect;
    } catch (err) {
      await client.endAsync(true).catch(() => {});
      this.#client = null;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** false when the broker turned out to ignore shared subscriptions (the hub then subscribed plainly) */
  get sharedSubscriptions(): boolean {
    return this.#shared;
  }

  /**
   * Subscribes to what devices publish: through the shared group when one is configured and
   * the broker honours it, else plainly. MQTT 3.1.1 cannot ask a broker whether it knows
   * `$share`, and one that does not (Aedes) grants the filter as a literal topic that never
   * matches — every event would be lost. So the hub probes: it subscribes a filter of its own
   * through the group (it is the group's only member for that filter) and publishes to it.
   */
  async #subscribe(client: MqttClient): Promise<void> {
    const group = this.#opts.sharedGroup;
    const subscribe = async (prefix: string) => {
      const granted = await client.subscribeAsync(
        devicePublishChannels.map((c) => `${prefix}${topics.allDevices(c)}`),
        { qos: 1 },
      );
      const refused = granted.filter((g) => g.qos === 128);
      if (refused.length > 0) {
        throw new KensaError(
          "KENSA_ERR_FORBIDDEN",
          `the broker refused the hub's subscriptions: ${refused.map((g) => g.topic).join(", ")}`,
        );
      }
    };
    this.#shared = false;
    if (!group) return subscribe("");
    const probeTopic = topics.hubProbe(this.#opts.clientId);
    const nonce = `${Date.now()}-${Math.random()}`;
    const heard = new Promise<boolean>((resolve) => {
      const onMessage = (topic: string, payload: Buffer) => {
        if (topic !== probeTopic || payload.toString() !== nonce) return;
        client.off("message", onMessage);
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        client.off("message", onMessage);
        resolve(false);
      }, PROBE_TIMEOUT_MS);
      client.on("message", onMessage);
    });
    await client.subscribeAsync(`$share/${group}/${probeTopic}`, { qos: 1 });
    await client.publishAsync(probeTopic, nonce, { qos: 1 });
    const shared = await heard;
    await client.unsubscribeAsync(`$share/${group}/${probeTopic}`).catch(() => undefined);
    if (shared) {
      this.#shared = true;
      return subscribe(`$share/${group}/`);
    }
    this.#opts.log.error(
      { url: this.#opts.url, group, errorCode: "KENSA_ERR_CONFIG_INVALID" },
      'the MQTT broker ignores shared subscriptions: subscribing plainly; run only one hub on it (or set mqtt.sharedGroup to "")',
    );
    return subscribe("");
  }

  /**
   * Publishes retained at QoS 1 and resolves on the PUBACK. A broker that never acknowledges
   * fails the publish after `ackTimeoutMs` (mqtt.js keeps the packet and resends it on the next
   * connection) so desired state for other devices is not held up behind it.
   */
  async publishDesired(deviceId: string, desired: Desired): Promise<void> {
    const client = this.#client;
    if (!client?.connected) return;
    const ackTimeoutMs = this.#opts.ackTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        if (!this.#unacked.delete(fail)) return;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const fail = (err: Error) => settle(err);
      const timer = setTimeout(
        () => fail(new Error(`the broker did not acknowledge within ${ackTimeoutMs} ms`)),
        ackTimeoutMs,
      );
      this.#unacked.add(fail);
      client.publish(topics.desired(deviceId), JSON.stringify(desired), { qos: 1, retain: true }, (err) =>
        settle(err ?? undefined),
      );
    });
  }

  /**
   * Tells a device which of its events are committed (QoS 0: a lost confirmation only means the
   * device sends those events again, and the hub confirms the replay).
   */
  publishAcks(deviceId: string, acks: EventAcks): void {
    const client = this.#client;
    if (!client?.connected) return;
    client.publish(topics.acks(deviceId), JSON.stringify(acks), { qos: 0 });
  }

  /**
   * Ends the session cleanly (DISCONNECT) when the broker answers within `graceMs`, else
   * destroys the socket. Publishes still waiting for a PUBACK are failed and dropped first:
   * mqtt.js's clean end would wait for them forever on a dead link, and a forced end after a
   * clean one has begun does nothing. The next connection re-publishes every desired state.
   */
  async close(graceMs = 2000): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (!client) return;
    for (const fail of [...this.#unacked]) fail(new Error("the hub's MQTT client is closing"));
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
    const clean = client.endAsync(false).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const ended = await Promise.race([clean, late]);
    clearTimeout(timer);
    if (!ended) client.stream?.destroy();
  }
}
