import { EventEmitter } from "node:events";
import { type Presence, topics } from "@kensa/contracts";
import { connect, type ErrorWithReasonCode, type MqttClient } from "mqtt";
import type { Logger } from "../logger.js";
import type { AgentTls } from "./agent-tls.js";

export interface MqttLinkOptions {
  url: string;
  deviceId: string;
  secret: string;
  agentVersion: string;
  logger: Logger;
  /** ms before the first reconnect attempt; doubles per failure */
  reconnectMinMs?: number;
  /** ms cap for the reconnect backoff */
  reconnectMaxMs?: number;
  /** for mqtts://: the CA the broker's certificate chains to, and this device's client certificate */
  tls?: AgentTls | null;
}

export interface MqttLinkEvents {
  /** CONNACK accepted, presence published, desired subscribed */
  connect: [];
  disconnect: [];
  /** a message on this device's desired topic (raw, validated by the updater) */
  desired: [payload: Buffer];
  /** the hub's confirmation of committed events (raw, validated by the publisher) */
  acks: [payload: Buffer];
}

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
}

/** CONNACK return codes (MQTT 3.1.1) that mean the broker refused these credentials. */
const authFailureCodes = new Set([4, 5]);

/**
 * The device's one MQTT connection: clientId = deviceId, clean session, per-device
 * credentials, a retained LWT "offline" on the presence topic, exponential reconnect backoff
 * (MQTT.js only knows a fixed period, so the period is raised before each attempt).
 */
export class MqttLink extends EventEmitter<MqttLinkEvents> {
  readonly #opts: Required<MqttLinkOptions>;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #failures = 0;
  #closing = false;
  /** whether the current outage was logged at warn; later retries log at debug */
  #outageLogged = false;

  constructor(opts: MqttLinkOptions) {
    super();
    this.#opts = { reconnectMinMs: 500, reconnectMaxMs: 8000, tls: null, ...opts };
    this.#log = opts.logger.child({ component: "mqtt" });
  }

  get connected(): boolean {
    return this.#client?.connected === true && !this.#closing;
  }

  start(): void {
    const { deviceId, secret, url } = this.#opts;
    const offline: Presence = { v: 1, status: "offline" };
    const client = connect(url, {
      clientId: deviceId,
      username: deviceId,
      password: secret,
      clean: true,
      protocolVersion: 4,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: this.#opts.reconnectMinMs,
      // credentials may be fixed on the hub (re-enrolment) without restarting the device
      reconnectOnConnackError: true,
      // mqtt-packet otherwise pre-builds a 2-byte Buffer for each of the 65 536 packet ids:
      // 6 MB of JS heap for a client that sends a few packets a second
      writeCache: false,
      will: { topic: topics.presence(deviceId), payload: Buffer.from(JSON.stringify(offline)), qos: 1, retain: true },
      ...this.#opts.tls,
    });
    this.#client = client;
    client.on("connect", () => this.#onConnect(client));
    client.on("reconnect", () => {
      this.#failures++;
      const backoff = Math.min(this.#opts.reconnectMaxMs, this.#opts.reconnectMinMs * 2 ** this.#failures);
      client.options.reconnectPeriod = Math.round(backoff * (0.8 + Math.random() * 0.4));
    });
    let wasConnected = false;
    client.on("connect", () => {
      wasConnected = true;
    });
    client.on("close", () => {
      if (wasConnected && !this.#closing) this.#log.warn("MQTT disconnected; events stay in the outbox");
      wasConnected = false;
      this.emit("disconnect");
    });
    client.on("error", (err) => {
      const code = (err as ErrorWithReasonCode).code;
      if (typeof code === "number" && authFailureCodes.has(code)) {
        client.options.reconnectPeriod = this.#opts.reconnectMaxMs;
        this.#log.error("MQTT broker rejected the device credentials; check deviceId and secret", {
          code,
          deviceId,
          url,
          errorCode: "KENSA_ERR_UNAUTHORIZED",
        });
      } else if (!this.#outageLogged) {
        this.#outageLogged = true;
        this.#log.warn("MQTT connection failed; retrying with backoff", { err, url });
      } else {
        this.#log.debug("MQTT connection failed", { err });
      }
    });
    client.on("message", (topic, payload) => {
      if (topic === topics.desired(deviceId)) this.emit("desired", payload);
      else if (topic === topics.acks(deviceId)) this.emit("acks", payload);
    });
  }

  #onConnect(client: MqttClient): void {
    this.#failures = 0;
    this.#outageLogged = false;
    client.options.reconnectPeriod = this.#opts.reconnectMinMs;
    const { deviceId, agentVersion } = this.#opts;
    this.#log.info("MQTT connected", { url: this.#opts.url });
    const online: Presence = { v: 1, status: "online", ts: new Date().toISOString(), agentVersion };
    client.publish(topics.presence(deviceId), JSON.stringify(online), { qos: 1, retain: true });
    client.subscribe({ [topics.desired(deviceId)]: { qos: 1 }, [topics.acks(deviceId)]: { qos: 0 } }, (err) => {
      if (err) this.#log.error("cannot subscribe to desired state and event confirmations", { err });
    });
    this.emit("connect");
  }

  /** QoS 1 publishes call back after the broker's PUBACK; the error says it was not acked. */
  publish(topic: string, payload: string | Buffer, opts: PublishOptions, cb?: (err?: Error) => void): void {
    const client = this.#client;
    if (!client) {
      cb?.(new Error("MQTT link not started"));
      return;
    }
    client.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) => cb?.(err));
  }

  /**
   * Publishes a retained "offline" (a clean DISCONNECT suppresses the LWT) and closes,
   * waiting at most `timeoutMs` for the broker.
   */
  async close(timeoutMs = 1000): Promise<void> {
    const client = this.#client;
    if (!client) return;
    if (client.connected) {
      const offline: Presence = { v: 1, status: "offline", ts: new Date().toISOString() };
      await withTimeout(
        new Promise<void>((resolve) => {
          client.publish(topics.presence(this.#opts.deviceId), JSON.stringify(offline), { qos: 1, retain: true }, () =>
            resolve(),
          );
        }),
        timeoutMs,
      );
    }
    this.#closing = true;
    await withTimeout(client.endAsync(false), timeoutMs).catch(() => undefined);
    // a broker that never answered leaves the socket open; do not keep the process alive for it
    if (!client.disconnected) await client.endAsync(true).catch(() => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (err) => {
        clearTimeout(t);
        reject(err);
      },
    );
  });
}
