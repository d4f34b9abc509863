import { randomBytes } from "node:crypto";
import { type Desired, KensaError, topics } from "@kensa/contracts";
import mqtt, { type IPublishPacket, type MqttClient } from "mqtt";
import type { DesiredPublisher } from "../fleet/desired-sync.js";
import type { Logger } from "../logger.js";

export interface HubMqttOptions {
  url: string;
  username?: string;
  password?: string;
  log: Logger;
  /** every device message; resolves when handled (the PUBACK waits for it) */
  onMessage(topic: string, payload: Uint8Array): Promise<void>;
  /** after every (re)connect and subscription: the broker may have lost retained state */
  onConnected(): Promise<void>;
  /** ms a desired-state publish waits for its PUBACK before it counts as failed (default 10 s) */
  ackTimeoutMs?: number;
}

/** ms to wait for the first connection before start() gives up */
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * The hub's own MQTT client, the same against the embedded broker or an external one. It
 * acknowledges a QoS 1 message only after handling it, so a message the hub crashed on is
 * redelivered by a broker that keeps sessions.
 */
export class HubMqttClient implements DesiredPublisher {
  #opts: HubMqttOptions;
  #client: MqttClient | null = null;
  /** publishes waiting for their PUBACK, each with how to fail it */
  #unacked = new Set<(err: Error) => void>();

  constructor(opts: HubMqttOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  async connect(): Promise<void> {
    const { url, username, password, log } = this.#opts;
    const client = mqtt.connect(url, {
      clientId: `kensa-hub-${randomBytes(6).toString("hex")}`,
      username,
      password,
      clean: true,
      resubscribe: false,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      protocolVersion: 4,
    });
    this.#client = client;
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      this.#opts.onMessage(packet.topic, payload).then(
        () => done(),
        () => done(),
      );
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
          await client.subscribeAsync(topics.allDevices("+"), { qos: 1 });
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
