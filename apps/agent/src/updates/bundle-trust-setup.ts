import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KensaError, type SignedStatement } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { StateStore } from "../storage/agent-db.js";
import { BundleTrust, signingHubCalls } from "./bundle-signature.js";
import { TrustStore } from "./trust-store.js";

export interface BundleTrustSetup {
  dataDir: string;
  deviceId: string;
  secret: string;
  hubUrl: string;
  bundleSigning: { trustRoot?: string | undefined; require: boolean };
}

/**
 * The agent's bundle trust: `<dataDir>/trust.json` (the latest root it accepted), first pinned
 * from `bundleSigning.trustRoot` when configured (the enrollment reply, or its `trust` object),
 * else from the hub on the first bundle. A trust store that does not verify stops the start
 * (KENSA_ERR_TRUST_STATEMENT_INVALID): the device must never fall back to trusting anyone.
 */
export async function openBundleTrust(
  o: BundleTrustSetup,
  state: StateStore,
  logger: Logger,
  fetchImpl?: typeof fetch,
): Promise<BundleTrust> {
  const store = await TrustStore.open(join(o.dataDir, "trust.json"));
  const file = o.bundleSigning.trustRoot;
  if (!store.root && file) {
    const root = await store.pin(await readTrustRootFile(resolve(file)));
    logger.info("trust root pinned from the configured file", { file, version: root.version });
  }
  return new BundleTrust({
    store,
    state,
    hub: signingHubCalls(o.hubUrl, o.deviceId, o.secret, fetchImpl),
    deviceId: o.deviceId,
    require: o.bundleSigning.require,
    logger,
  });
}

async function readTrustRootFile(file: string): Promise<SignedStatement> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new KensaError("KENSA_ERR_TRUST_STATEMENT_INVALID", `trust root file ${file}: ${(err as Error).message}`);
  }
  // the whole enrollment reply, or only its `trust`
  const statement = (value as { trust?: unknown }).trust ?? value;
  const s = statement as Partial<SignedStatement>;
  if (typeof s.signed !== "string" || !Array.isArray(s.signatures)) {
    throw new KensaError("KENSA_ERR_TRUST_STATEMENT_INVALID", `trust root file ${file} holds no signed trust root`);
  }
  return { signed: s.signed, signatures: s.signatures };
}
