import { KensaClient } from "@kensa/client";

/** What the scenario needs of a hub: `Hub` of `@kensa/hub` is one. */
export interface StartableHub {
  adminToken: string;
  start(): Promise<{ httpUrl: string; mqttUrl: string }>;
  close(): Promise<void>;
}

/**
 * Builds a hub from its configuration: `createHub` of `@kensa/hub`, passed in by the caller (a
 * composition root: the CLI, a benchmark, a test), so this package depends on no app.
 */
export type HubFactory<H extends StartableHub> = (
  config: ScenarioHubConfig,
  deps: { env?: Record<string, string | undefined> },
) => Promise<H>;

/** The hub configuration the scenario writes, plus whatever the caller adds. */
export interface ScenarioHubConfig {
  dataDir: string;
  http: { host: string; port: number };
  mqtt: { embedded: { enabled: true; host: string; port: number } };
  logLevel: "warn";
  smtp?: { host: string; port: number; from: string };
  [key: string]: unknown;
}

export interface ScenarioHubOptions<H extends StartableHub> {
  /** `createHub` of `@kensa/hub` */
  createHub: HubFactory<H>;
  /** the hub's data directory (database, blobs, admin token) */
  dataDir: string;
  /** HTTP port; 0 (the default) takes any free one */
  httpPort?: number;
  /** embedded MQTT broker port; 0 (the default) takes any free one */
  mqttPort?: number;
  /** the SMTP server incidents are mailed through (e.g. an SmtpSink) */
  smtp?: { host: string; port: number; from: string };
  /** more hub configuration (training, notifications, …): its top-level keys replace the scenario's */
  config?: Record<string, unknown>;
  /** the hub's environment (KENSA_ADMIN_PASSWORD, KENSA_LOG_LEVEL); process.env by default */
  env?: Record<string, string | undefined>;
}

/** A started hub with its addresses and the admin's typed client. */
export interface ScenarioHub<H extends StartableHub> {
  hub: H;
  httpUrl: string;
  mqttUrl: string;
  /** the hub's bootstrap admin token */
  adminToken: string;
  /** calls the hub's routes with the admin token */
  client: KensaClient;
  close(): Promise<void>;
}

/**
 * Builds and starts a hub on the embedded default (SQLite, file blobs, embedded broker) bound to
 * 127.0.0.1, logging warnings only. A hub that fails to start is closed before the error is thrown.
 */
export async function startScenarioHub<H extends StartableHub>(opts: ScenarioHubOptions<H>): Promise<ScenarioHub<H>> {
  const hub = await opts.createHub(
    {
      dataDir: opts.dataDir,
      http: { host: "127.0.0.1", port: opts.httpPort ?? 0 },
      mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: opts.mqttPort ?? 0 } },
      logLevel: "warn",
      ...(opts.smtp ? { smtp: opts.smtp } : {}),
      ...opts.config,
    },
    opts.env ? { env: opts.env } : {},
  );
  let addresses: { httpUrl: string; mqttUrl: string };
  try {
    addresses = await hub.start();
  } catch (err) {
    await hub.close().catch(() => undefined);
    throw err;
  }
  return {
    hub,
    ...addresses,
    adminToken: hub.adminToken,
    client: adminClient(addresses.httpUrl, hub.adminToken),
    close: () => hub.close(),
  };
}

/** A typed client of the hub at `baseUrl` that signs its calls with an admin or API token. */
export function adminClient(baseUrl: string, token: string): KensaClient {
  return new KensaClient({ baseUrl, auth: { kind: "bearer", token } });
}
