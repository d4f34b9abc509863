import type { ModelVersion } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** The model versions a deployment ships, as the registry holds them (implemented by registry). */
export interface ModelLookup {
  get(id: string, db?: Kysely<HubDatabase>): Promise<ModelVersion>;
}

/**
 * What the broker devices connect to must hear of a device's credentials (implemented by the
 * embedded broker, which asks the hub at every CONNECT, and by the Mosquitto dynamic-security
 * manager, which keeps its own accounts).
 */
export interface BrokerAccounts {
  /** true when the broker keeps its own accounts, so its state can lag the hub's (`brokerAccount`) */
  readonly keepsAccounts: boolean;
  /**
   * The device may connect with `secret` from now on, and only with it (enabled again if it was
   * revoked); called before the hub stores the secret, so a failure changes nothing. Throws
   * KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE.
   */
  setSecret(deviceId: string, secret: string): Promise<void>;
  /** The device may no longer connect; called after the hub stored the revocation. Throws KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE. */
  disable(deviceId: string): Promise<void>;
  /** Ends the device's live sessions; called after a change is stored. */
  disconnect(deviceId: string): Promise<void>;
}
