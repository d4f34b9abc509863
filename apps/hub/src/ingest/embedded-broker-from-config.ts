import { randomBytes } from "node:crypto";
import type { HubConfig } from "../config.js";
import type { DeviceAuth } from "../fleet/device-auth.js";
import { HUB_MQTT_USERNAME } from "../fleet/device-service.js";
import { connectHost } from "../http/hub-urls.js";
import type { Logger } from "../logger.js";
import type { BrokerTlsOptions } from "./broker-tls.js";
import type { AclRefusal } from "./device-acl.js";
import { EmbeddedBroker } from "./embedded-broker.js";

export interface EmbeddedBrokerDeps {
  config: HubConfig;
  tls: BrokerTlsOptions | null;
  /** the hub's own client's password, new at every start */
  hubPassword: string;
  deviceAuth: Pick<DeviceAuth, "verify" | "verifyCertificate">;
  onDeviceMessage(topic: string, payload: Buffer): Promise<void> | undefined;
  /** every refused CONNECT, PUBLISH and SUBSCRIBE, for the audit log */
  onRefused?: (refusal: AclRefusal) => void;
  log: Logger;
}

/** The embedded broker as `mqtt.embedded` describes it, checking devices against the hub's database. */
export function embeddedBrokerFromConfig(deps: EmbeddedBrokerDeps): EmbeddedBroker {
  const { config, tls, deviceAuth, log } = deps;
  return new EmbeddedBroker({
    host: config.mqtt.embedded.host,
    port: config.mqtt.embedded.port,
    hubUsername: HUB_MQTT_USERNAME,
    hubPassword: deps.hubPassword,
    verifyDevice: async (id, secret, from) => (await deviceAuth.verify(id, secret, from)) !== null,
    ...(tls ? { tls } : {}),
    // a certificate names its device; its serial must be recorded for that device and neither
    // it nor the device revoked (DeviceAuth caches acceptances until the device's credentials change)
    verifyDeviceCertificate: (id, serial) => deviceAuth.verifyCertificate(id, serial),
    onDeviceMessage: deps.onDeviceMessage,
    ...(deps.onRefused ? { onRefused: deps.onRefused } : {}),
    maxPacketBytes: config.limits.mqttPacketBytes,
    log,
  });
}

/** A started embedded broker, and how the hub's own client reaches it. */
export interface StartedBroker {
  broker: EmbeddedBroker;
  url: string;
  username: string;
  password: string;
}

/** Starts the embedded broker on its listener with a hub password new at this start. Throws KENSA_ERR_PORT_IN_USE. */
export async function startEmbeddedBroker(deps: Omit<EmbeddedBrokerDeps, "hubPassword">): Promise<StartedBroker> {
  const password = randomBytes(24).toString("base64url");
  const broker = embeddedBrokerFromConfig({ ...deps, hubPassword: password });
  const port = await broker.listen();
  const url = `${deps.tls ? "mqtts" : "mqtt"}://${connectHost(deps.config.mqtt.embedded.host)}:${port}`;
  return { broker, url, username: HUB_MQTT_USERNAME, password };
}
