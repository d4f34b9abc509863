import { hostname } from "node:os";
import type { HubConfig } from "../config.js";
import type { ClientTlsMaterial } from "../http/tls.js";
import type { Logger } from "../logger.js";
import { HubMqttClient } from "./hub-mqtt-client.js";

export interface HubMqttClientDeps {
  config: HubConfig;
  /** the broker's address, and the hub's account on it */
  url: string;
  username: string | undefined;
  password: string | undefined;
  /** the embedded broker's TLS listener is on; else the TLS material for an external broker (mqtt.tls), if any */
  embeddedTls: boolean;
  clientTls: ClientTlsMaterial | null;
  log: Logger;
  onMessage(topic: string, payload: Uint8Array): Promise<void> | undefined;
  onConnected(): Promise<void>;
}

/** The hub's own MQTT client as `mqtt` describes it (docs/brokers.md, docs/replicas.md). */
export function hubMqttClientFromConfig(deps: HubMqttClientDeps): HubMqttClient {
  const { config } = deps;
  const embedded = config.mqtt.embedded.enabled;
  return new HubMqttClient({
    url: deps.url,
    username: deps.username,
    password: deps.password,
    // the embedded broker is this machine's own listener (its names go unchecked); else mqtt.tls
    ...(deps.embeddedTls ? { tls: { rejectUnauthorized: false } } : deps.clientTls ? { tls: deps.clientTls } : {}),
    log: deps.log,
    clientId: config.mqtt.clientId ?? `kensa-hub-${hostname()}`,
    // Aedes has no shared subscriptions; the embedded broker serves exactly one hub
    sharedGroup: embedded || !config.mqtt.sharedGroup ? null : config.mqtt.sharedGroup,
    onMessage: deps.onMessage,
    // the embedded broker hands device messages to the ingest itself
    subscribeDevices: !embedded,
    onConnected: deps.onConnected,
  });
}
