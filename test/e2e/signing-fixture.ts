import { generateKeyPairSync, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";
import {
  type BundleRef,
  type BundleSignatures,
  fleetRoutes,
  type ModelVersion,
  routePath,
  type Signature,
  type SignedKind,
  signingInput,
} from "@kensa/contracts";
import { Logger } from "../../apps/agent/src/logger.js";
import { openAgentDb, StateStore } from "../../apps/agent/src/storage/agent-db.js";
import { BundleFetcher, type FetchedBundle } from "../../apps/agent/src/updates/bundle-fetcher.js";
import type { BundleUse } from "../../apps/agent/src/updates/bundle-signature.js";
import { BundleStore } from "../../apps/agent/src/updates/bundle-store.js";
import { openBundleTrust } from "../../apps/agent/src/updates/bundle-trust-setup.js";
import { TrustStore } from "../../apps/agent/src/updates/trust-store.js";

/** How the proxy changes what the hub answers: a mirror or a network in the attacker's hands. */
export interface Tampering {
  /** asks the hub for another path (a mirror answering for a bundle id the hub never made) */
  route?: (path: string) => string;
  signatures?: (reply: BundleSignatures) => BundleSignatures;
  trust?: (reply: { roots: unknown[] }) => { roots: unknown[] };
  /** bundle manifests and model blobs, by path */
  bytes?: (path: string, body: Buffer) => Buffer;
}

/** A real HTTP proxy in front of the hub that can rewrite its answers to devices. */
export interface TamperProxy {
  url: string;
  /** the hub's own URL (settable: a hub whose public URL is this proxy starts after it) */
  upstream: string;
  tamper: Tampering;
  close(): Promise<void>;
}

export async function startTamperProxy(hubUrl: string): Promise<TamperProxy> {
  const proxy: TamperProxy = { url: "", upstream: hubUrl, tamper: {}, close: async () => undefined };
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    try {
      const asked = new URL(req.url ?? "/", proxy.upstream);
      asked.pathname = proxy.tamper.route?.(asked.pathname) ?? asked.pathname;
      const upstream = await fetch(asked, {
        method: req.method ?? "GET",
        headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
      });
      let body: Buffer = Buffer.from(await upstream.arrayBuffer());
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const t = proxy.tamper;
      if (upstream.ok && path.endsWith("/signatures") && t.signatures) {
        body = Buffer.from(JSON.stringify(t.signatures(JSON.parse(body.toString("utf8")) as BundleSignatures)));
      } else if (upstream.ok && path === "/api/v1/signing/trust" && t.trust) {
        body = Buffer.from(JSON.stringify(t.trust(JSON.parse(body.toString("utf8")) as { roots: unknown[] })));
      } else if (upstream.ok && t.bytes) {
        body = t.bytes(path, body);
      }
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(body);
    } catch (err) {
      res.writeHead(502).end((err as Error).message);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  proxy.url = `http://127.0.0.1:${port}`;
  proxy.close = () => new Promise((r) => server.close(() => r()));
  return proxy;
}

/** The BundleRef a desired state names for a bundle of `model`, with URLs through `base`. */
export function refOf(base: string, bundleSha256: string, model: ModelVersion): BundleRef {
  return {
    sha256: bundleSha256,
    modelVersionId: model.id,
    url: `${base}${routePath(fleetRoutes.getBundle.path, { sha: bundleSha256 })}`,
    modelUrl: `${base}${routePath(fleetRoutes.getBlob.path, { sha: model.sha256 })}`,
    modelSha256: model.sha256,
    size: model.size,
  };
}

/** The agent's real bundle path (trust store, signature and rollback checks, fetcher, store) in this process. */
export interface SigningDevice {
  id: string;
  dataDir: string;
  store: BundleStore;
  /** the device's HTTP credentials */
  authorization: string;
  /** fetches and checks a bundle; with `run`, records it as running (its sequence becomes the floor) */
  install(ref: BundleRef, opts?: { use?: BundleUse; run?: boolean }): Promise<FetchedBundle>;
  trustVersion(): Promise<number | undefined>;
  close(): void;
}

export async function signingDevice(
  dir: string,
  device: { id: string; secret: string },
  hubUrl: string,
  opts: { trustRoot?: string; require?: boolean } = {},
): Promise<SigningDevice> {
  const dataDir = join(dir, `agent-${device.id}`);
  const db = openAgentDb(dataDir);
  const log = new Logger("error");
  const bundleSigning = { require: opts.require ?? false, ...(opts.trustRoot ? { trustRoot: opts.trustRoot } : {}) };
  const trust = await openBundleTrust(
    { dataDir, deviceId: device.id, secret: device.secret, hubUrl, bundleSigning },
    new StateStore(db),
    log,
  );
  const store = new BundleStore(join(dataDir, "bundles"));
  await store.reap();
  const fetcher = new BundleFetcher({
    deviceId: device.id,
    secret: device.secret,
    hubUrl,
    store,
    trust,
    downloadAttempts: 1,
    downloadRetryBaseMs: 10,
  });
  return {
    id: device.id,
    dataDir,
    store,
    authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString("base64")}`,
    install: async (ref, o = {}) => {
      const fetched = await fetcher.fetch(
        ref,
        new AbortController().signal,
        log,
        o.use ?? { pipeline: "default", role: "bundle" },
      );
      if (o.run !== false) fetcher.accepted(fetched);
      return fetched;
    },
    trustVersion: async () => {
      const file = join(dataDir, "trust.json");
      return existsSync(file) ? (await TrustStore.open(file)).root?.version : undefined;
    },
    close: () => db.close(),
  };
}

/** A key no device trusts, and its signatures. */
export function foreignKey(): {
  keyId: string;
  publicKey: string;
  sign(kind: SignedKind, payload: Uint8Array): Signature;
} {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const keyId = "f0e1d2c3b4a59687";
  return {
    keyId,
    publicKey: raw.toString("base64"),
    sign: (kind, payload) => ({ keyId, sig: sign(null, signingInput(kind, payload), privateKey).toString("base64") }),
  };
}
