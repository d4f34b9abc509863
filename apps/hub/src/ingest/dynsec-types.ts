import type { Logger } from "../logger.js";

/** What the manager reads and records of devices (implemented by the fleet's DeviceService). */
export interface DeviceAccountSource {
  accountStates(): Promise<Array<{ id: string; revoked: boolean; brokerAccount: string | null }>>;
  setBrokerAccount(id: string, state: "pending" | "needs_rotation" | null): Promise<void>;
}

export interface MosquittoDynsecOptions {
  /** the broker's URL (the hub's `mqtt.url`) */
  url: string;
  adminUsername: string;
  adminPassword: string;
  /** the hub's own account, which this manager creates and grants the hub's ACL */
  hubUsername: string;
  hubPassword: string;
  devices: DeviceAccountSource;
  log: Logger;
  /** ms between retries of a failed reconciliation or an unconfirmed revocation */
  retryMs: number;
  /** ms the broker has to answer one message of commands */
  timeoutMs: number;
}

/** What one reconciliation did; per device, never throwing half-way. */
export interface ReconcileResult {
  /** devices whose account matches the hub's state after this pass */
  ok: number;
  /** device accounts that were missing and were created without a password */
  needsRotation: string[];
  failed: Array<{ item: string; code: string; message: string }>;
}

export interface ClientInfo {
  username: string;
  clientid?: string;
  disabled?: boolean;
  roles?: Array<{ rolename: string }>;
}
