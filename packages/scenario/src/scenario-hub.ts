import { KensaClient } from "@kensa/client";
import { createHub, type Hub, type HubConfigInput, type HubDeps } from "@kensa/hub";

export interface ScenarioHubOptions {
  /** the hub's data directory (database, blobs, admin token) */
  dataDir: string;
  /** HTTP port; 0 (the default) takes any free one */
  httpPort?: number;
  /** embedded MQTT broker port; 0 (the default) takes any free one */
  mqttPort?: number;
  /** the SMTP server incidents are mailed through (e.g. an SmtpSink) */
  smtp?: { host: string; port: number; from: string };
  /** more hub configuration (training, notifications, …): its top-level keys replace the scenario's */
  config?: HubConfigInput;
  /** the hub's environment (KENSA_ADMIN_PASSWORD, KENSA_LOG_LEVEL); process.env by default */
  env?: HubDeps["env"];
}

/** A started hub with its addresses and the admin's typed client. */
export interface ScenarioHub {
  hub: Hub;
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
export async function startScenarioHub(opts: ScenarioHubOptions): Promise<ScenarioHub> {
  const hub = await createHub(
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
  let addresses: Awaited<ReturnType<Hub["start"]>>;
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
