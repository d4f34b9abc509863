import type { SecureContextOptions } from "node:tls";
import type { FastifyInstance } from "fastify";
import type { HubConfig } from "./config.js";
import { DeviceCertificateAuthority, deviceCaFiles } from "./fleet/device-certs.js";
import { connectHost } from "./http/hub-urls.js";
import {
  type ClientTlsMaterial,
  plainListenersOffLoopback,
  readClientTls,
  readServerTls,
  type TlsMaterial,
} from "./http/tls.js";
import type { BrokerTlsOptions } from "./ingest/broker-tls.js";
import type { EmbeddedBroker } from "./ingest/embedded-broker.js";
import type { Logger } from "./logger.js";

/** The certificates the hub's listeners and its MQTT client use, read from the configured files. */
export interface HubTls {
  /** HTTPS; null serves plain HTTP */
  http: TlsMaterial | null;
  /** MQTT over TLS on the embedded broker's listener; null for plain MQTT */
  broker: BrokerTlsOptions | null;
  /** the CA of device client certificates, when the embedded broker accepts them */
  deviceCa: DeviceCertificateAuthority | null;
  /** what the hub's client trusts and shows on an external broker (`mqtt.tls`) */
  client: ClientTlsMaterial | null;
}

/** Reads every configured certificate file; throws KENSA_ERR_TLS_FILES naming the key of a bad one. */
export async function loadHubTls(config: HubConfig): Promise<HubTls> {
  const http = config.http.tls ? await readServerTls(config.http.tls, "/http/tls") : null;
  const embedded = config.mqtt.embedded.enabled ? config.mqtt.embedded.tls : undefined;
  let broker: BrokerTlsOptions | null = null;
  let deviceCa: DeviceCertificateAuthority | null = null;
  if (embedded) {
    const material = await readServerTls(embedded, "/mqtt/embedded/tls", { withCa: true });
    if (embedded.clientCertificates !== "off") {
      deviceCa = await DeviceCertificateAuthority.open(deviceCaFiles(config), { create: !embedded.deviceCa });
      // client certificates chain to the device CA, or to a CA the operator added
      const ca = Buffer.concat([Buffer.from(`${deviceCa.certPem.trim()}\n`), material.ca ?? Buffer.alloc(0)]);
      material.ca = ca;
    }
    broker = { material, clientCertificates: embedded.clientCertificates };
  }
  const client = config.mqtt.tls ? await readClientTls(config.mqtt.tls, "/mqtt/tls") : null;
  return { http, broker, deviceCa, client };
}

/**
 * Reads the certificate files again and hands them to the listeners: connections made from
 * now on use them, open ones keep theirs. Files that fail the checks leave the old ones in use
 * (the error is thrown for the caller to log).
 */
export async function reloadHubTls(
  config: HubConfig,
  current: HubTls,
  targets: { app: FastifyInstance; broker: EmbeddedBroker | null; log: Logger },
): Promise<void> {
  const next = await loadHubTls(config);
  if (next.http && "setSecureContext" in targets.app.server) {
    (targets.app.server as unknown as { setSecureContext(o: SecureContextOptions): void }).setSecureContext(next.http);
  }
  if (next.broker) targets.broker?.setTls(next.broker);
  Object.assign(current, { http: next.http, broker: next.broker, client: next.client });
  targets.log.info({ http: !!next.http, mqtt: !!next.broker }, "tls certificates reloaded");
}

/** Logs, once at start, every listener other machines reach without TLS; returns them. */
export function warnPlainListeners(config: HubConfig, tls: HubTls, log: Logger): string[] {
  const plain = plainListenersOffLoopback([
    { name: "HTTP", host: config.http.host, tls: !!tls.http },
    ...(config.mqtt.embedded.enabled ? [{ name: "MQTT", host: config.mqtt.embedded.host, tls: !!tls.broker }] : []),
  ]);
  if (plain.length) {
    log.warn(
      { listeners: plain },
      `serving without TLS to the network: ${plain.join(", ")}; passwords, tokens, device secrets and images cross it in clear text (configure http.tls and mqtt.embedded.tls)`,
    );
  }
  return plain;
}

/**
 * The URLs agents and people are given: the configured public ones, else the bound listeners'
 * (https/mqtts when they serve TLS). `brokerUrl` is the embedded broker's once bound, or `mqtt.url`.
 */
export function publicUrls(config: HubConfig, tls: HubTls, httpPort: number, brokerUrl?: string): [string, string] {
  const { http, mqtt } = config;
  const embedded = `${tls.broker ? "mqtts" : "mqtt"}://${connectHost(mqtt.embedded.host)}:${mqtt.embedded.port}`;
  return [
    http.publicUrl ?? `${tls.http ? "https" : "http"}://${connectHost(http.host)}:${httpPort}`,
    mqtt.publicUrl ?? brokerUrl ?? (mqtt.embedded.enabled ? embedded : (mqtt.url ?? "")),
  ];
}
