import { generateKeyPairSync, sign } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canonicalJson, type KensaError, signingInput, type TrustRoot } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Logger } from "../src/logger.js";
import { openAgentDb, StateStore } from "../src/storage/agent-db.js";
import { BundleFetcher } from "../src/updates/bundle-fetcher.js";
import { BundleStore } from "../src/updates/bundle-store.js";
import { openBundleTrust } from "../src/updates/bundle-trust-setup.js";
import { TrustStore } from "../src/updates/trust-store.js";
import { startHubHttp, type TestHub } from "./helpers/hub-http.js";

/** A self-signed trust root of a fresh key, as an enrollment reply's `trust`. */
function enrollmentRoot() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const root: TrustRoot = {
    type: "kensa.trust-root/v1",
    version: 1,
    threshold: 1,
    keys: [{ id: "00112233445566aa", alg: "ed25519", publicKey: raw.toString("base64") }],
    retired: [],
    issuedAt: new Date().toISOString(),
  };
  const signed = canonicalJson(root);
  const sig = sign(null, signingInput("root", Buffer.from(signed, "utf8")), privateKey).toString("base64");
  return { trust: { signed, signatures: [{ keyId: "00112233445566aa", sig }] } };
}

/**
 * The compatibility rule against a hub from before signing (this stand-in serves bundles but no
 * trust roots or signatures): an agent that holds no keys checks hashes only unless
 * `bundleSigning.require`; an agent that holds keys requires signatures whatever the hub says.
 */
describe("bundle trust against a hub that signs nothing", () => {
  const deviceId = "cam-legacy";
  const secret = "s3cret-legacy";
  let hub: TestHub;
  let dir: TempDir;

  beforeAll(async () => {
    hub = await startHubHttp(deviceId, secret);
    dir = await tempDir();
  });
  afterAll(async () => {
    await hub.stop();
    await dir.remove();
  });

  const attempt = async (name: string, bundleSigning: { require: boolean; trustRoot?: string }) => {
    const dataDir = join(dir.path, name);
    const db = openAgentDb(dataDir);
    try {
      const log = new Logger("error");
      const trust = await openBundleTrust(
        { dataDir, deviceId, secret, hubUrl: hub.url, bundleSigning },
        new StateStore(db),
        log,
      );
      const store = new BundleStore(join(dataDir, "bundles"));
      await store.reap();
      const fetcher = new BundleFetcher({ deviceId, secret, hubUrl: hub.url, store, trust, downloadAttempts: 1 });
      const { ref } = hub.addBundle(`mv-${name}`);
      const got = await fetcher
        .fetch(ref, new AbortController().signal, log, { pipeline: "default", role: "bundle" })
        .catch((e: KensaError) => e);
      return { got, stored: store.has(ref.sha256) };
    } finally {
      db.close();
    }
  };

  it("an agent without keys takes the bundle by its hashes", async () => {
    const { got, stored } = await attempt("no-keys", { require: false });
    expect(got).toMatchObject({ trusted: { signed: false } });
    expect(stored).toBe(true);
  });

  it("refuses it with bundleSigning.require, and always once it holds keys", async () => {
    const required = await attempt("required", { require: true });
    expect((required.got as KensaError).code).toBe("KENSA_ERR_BUNDLE_UNSIGNED");
    expect(required.stored).toBe(false);
    const rootFile = join(dir.path, "enrollment.json");
    await writeFile(rootFile, JSON.stringify(enrollmentRoot()));
    const pinned = await attempt("pinned", { require: false, trustRoot: rootFile });
    expect((pinned.got as KensaError).code).toBe("KENSA_ERR_BUNDLE_UNSIGNED");
    expect(pinned.stored).toBe(false);
  });

  it("refuses to start from a trust root that is not signed by its own keys", async () => {
    const bad = enrollmentRoot();
    bad.trust.signed = bad.trust.signed.replace('"version":1', '"version":2');
    const rootFile = join(dir.path, "forged.json");
    await writeFile(rootFile, JSON.stringify(bad));
    const { got } = await attempt("forged", { require: false, trustRoot: rootFile }).catch((e: KensaError) => ({
      got: e,
    }));
    expect((got as KensaError).code).toBe("KENSA_ERR_TRUST_STATEMENT_INVALID");
  });
});

/** A key that signs trust roots, with the TrustKey entry a root lists for it. */
function rootKey(id: string) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  return {
    entry: { id, alg: "ed25519" as const, publicKey: raw.toString("base64") },
    sign: (signed: string) => ({
      keyId: id,
      sig: sign(null, signingInput("root", Buffer.from(signed, "utf8")), privateKey).toString("base64"),
    }),
  };
}

function rootOf(version: number, keys: Array<ReturnType<typeof rootKey>>, signers: Array<ReturnType<typeof rootKey>>) {
  const root: TrustRoot = {
    type: "kensa.trust-root/v1",
    version,
    threshold: 1,
    keys: keys.map((k) => k.entry),
    retired: [],
    issuedAt: new Date().toISOString(),
  };
  const signed = canonicalJson(root);
  return { signed, signatures: signers.map((k) => k.sign(signed)) };
}

describe("the trust store's rotations", () => {
  it("takes n+1 signed by the old and the new keys, ignores replays, and stops at a gap or a one-sided root", async () => {
    const dir = await tempDir();
    try {
      const [k1, k2, k3] = [rootKey("00000000000000a1"), rootKey("00000000000000a2"), rootKey("00000000000000a3")];
      const store = await TrustStore.open(join(dir.path, "trust.json"));
      await store.pin(rootOf(1, [k1], [k1]));
      // signed by the new key only: a thief of no trusted key cannot rotate
      await expect(store.advance([rootOf(2, [k2], [k2])])).rejects.toMatchObject({
        code: "KENSA_ERR_TRUST_STATEMENT_INVALID",
      });
      // signed by the old key only: the new keys must prove themselves too
      await expect(store.advance([rootOf(2, [k2], [k1])])).rejects.toMatchObject({
        code: "KENSA_ERR_TRUST_STATEMENT_INVALID",
      });
      expect(store.root?.version).toBe(1);
      expect(await store.advance([rootOf(2, [k1, k2], [k1, k2])])).toBe(1);
      // a replayed older root is ignored, a skipped version refused
      expect(await store.advance([rootOf(1, [k1], [k1])])).toBe(0);
      await expect(store.advance([rootOf(4, [k2, k3], [k2, k3])])).rejects.toMatchObject({
        code: "KENSA_ERR_TRUST_STATEMENT_INVALID",
      });
      const retiring = rootOf(3, [k2], [k2]);
      retiring.signed = retiring.signed.replace('"retired":[]', `"retired":["${k1.entry.id}"]`);
      retiring.signatures = [k2.sign(retiring.signed)];
      expect(await store.advance([retiring])).toBe(1);
      expect(store.keyState(k1.entry.id)).toBe("retired");
      expect(store.keyState(k2.entry.id)).toBe("active");
      expect(store.keyState(k3.entry.id)).toBe("unknown");
      // kept on disk
      expect((await TrustStore.open(join(dir.path, "trust.json"))).root?.version).toBe(3);
    } finally {
      await dir.remove();
    }
  });
});
