import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import {
  canonicalJson,
  type EnrolledDevice,
  fleetRoutes,
  type KensaError,
  type ModelVersion,
  type SignedStatement,
  sha256Hex,
  signingRoutes,
  type TrustRoot,
} from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  createInspectionProject,
  deployToDevices,
  pushBlemishModel,
  type ScenarioHub,
  startScenarioHub,
} from "@kensa/scenario";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  foreignKey,
  refOf,
  type SigningDevice,
  signingDevice,
  startTamperProxy,
  type TamperProxy,
} from "./signing-fixture.js";

/**
 * Signed bundles against a real hub: the agent's own trust store, signature and rollback checks,
 * fetcher and bundle store run in this process and reach the hub through a proxy that plays the
 * attacker (a mirror or network that rewrites answers). Every refusal must leave the store without
 * the bundle: nothing of a refused model is written into place.
 */
describe("signed bundles: what an agent refuses and what it accepts", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let proxy: TamperProxy;
  let projectId: string;
  const models: ModelVersion[] = [];
  const devices: SigningDevice[] = [];

  const enroll = async (id: string): Promise<EnrolledDevice> =>
    api.call(fleetRoutes.enroll, { body: { projectId, id, tags: [], arch: "x64" } });
  const deploy = async (model: ModelVersion, deviceId: string) =>
    (await deployToDevices(api, model.id, [deviceId])).bundleSha256;
  const device = async (enrolled: EnrolledDevice, opts: { trustRoot?: string } = {}) => {
    const d = await signingDevice(dir.path, { id: enrolled.device.id, secret: enrolled.secret }, proxy.url, opts);
    devices.push(d);
    return d;
  };
  const refusal = async (p: Promise<unknown>): Promise<string> => {
    const err = (await p.then(
      () => null,
      (e: unknown) => e,
    )) as KensaError | null;
    expect(err, "the bundle was accepted").not.toBeNull();
    return err!.code;
  };

  beforeAll(async () => {
    dir = await tempDir();
    hub = await startScenarioHub({ createHub, dataDir: join(dir.path, "hub") });
    api = hub.client;
    projectId = (await createInspectionProject(api, { slug: "signing", name: "Signing" })).id;
    for (const size of [32, 40, 48]) {
      models.push(
        await pushBlemishModel(api, projectId, { width: size, height: size, fileName: `blemish-${size}.onnx` }),
      );
    }
    proxy = await startTamperProxy(hub.httpUrl);
  });
  afterEach(() => {
    proxy.tamper = {};
  });
  afterAll(async () => {
    for (const d of devices) d.close();
    await proxy?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("installs a signed bundle, pinning the hub's trust root handed at enrollment", async () => {
    const enrolled = await enroll("sig-ok");
    expect(enrolled.trust).toBeDefined();
    const rootFile = join(dir.path, "sig-ok-enrollment.json");
    await writeFile(rootFile, JSON.stringify(enrolled));
    const d = await device(enrolled, { trustRoot: rootFile });
    expect(await d.trustVersion()).toBe(1);
    const sha = await deploy(models[0]!, d.id);
    const fetched = await d.install(refOf(proxy.url, sha, models[0]!));
    expect(fetched.trusted).toMatchObject({ signed: true, pipeline: "default" });
    expect(fetched.manifest.sequence).toBeGreaterThanOrEqual(1);
    expect(d.store.has(sha)).toBe(true);
  });

  it("refuses unsigned, wrongly signed, unknown-key, tampered-manifest and tampered-model bundles", async () => {
    const d = await device(await enroll("sig-tamper"));
    const sha = await deploy(models[1]!, d.id);
    const ref = refOf(proxy.url, sha, models[1]!);

    proxy.tamper = { signatures: (r) => ({ ...r, signatures: [] }) };
    expect(await refusal(d.install(ref))).toBe("KENSA_ERR_BUNDLE_UNSIGNED");

    proxy.tamper = {
      signatures: (r) => ({ ...r, signatures: r.signatures.map((s) => ({ ...s, sig: flip(s.sig) })) }),
    };
    expect(await refusal(d.install(ref))).toBe("KENSA_ERR_BUNDLE_SIGNATURE_INVALID");

    const manifestBytes = await bytesOf(ref.url, d);
    const attacker = foreignKey();
    proxy.tamper = { signatures: (r) => ({ ...r, signatures: [attacker.sign("bundle", manifestBytes)] }) };
    expect(await refusal(d.install(ref))).toBe("KENSA_ERR_BUNDLE_KEY_UNKNOWN");

    // the attacker controls the desired state too: the ref names the tampered manifest's hash
    const tampered = Buffer.from(manifestBytes.toString("utf8").replace('"default":0.5', '"default":0.99'), "utf8");
    expect(tampered.equals(manifestBytes)).toBe(false);
    const forged = { ...ref, sha256: sha256Hex(tampered), url: ref.url.replace(sha, sha256Hex(tampered)) };
    proxy.tamper = {
      // the mirror answers for the forged id with the real bundle's signatures and tampered bytes
      route: (path) => path.replace(forged.sha256, sha),
      bytes: (path, body) => (path === `/api/v1/bundles/${forged.sha256}` ? tampered : body),
      signatures: (r) => ({ ...r, bundleSha256: forged.sha256 }),
    };
    expect(await refusal(d.install(forged))).toBe("KENSA_ERR_BUNDLE_SIGNATURE_INVALID");
    expect(d.store.has(forged.sha256)).toBe(false);

    // a changed model: the signed manifest pins its sha256
    proxy.tamper = { bytes: (path, body) => (path.startsWith("/api/v1/blobs/") ? flipByte(body) : body) };
    expect(await refusal(d.install(ref))).toBe("KENSA_ERR_BUNDLE_HASH_MISMATCH");
    const evil = { ...ref, modelSha256: sha256Hex(flipByte(await bytesOf(ref.modelUrl, d))) };
    expect(await refusal(d.install(evil))).toBe("KENSA_ERR_BUNDLE_HASH_MISMATCH");

    expect(d.store.has(sha)).toBe(false);
    proxy.tamper = {};
    expect((await d.install(ref)).trusted?.signed).toBe(true);
  });

  it("refuses a replayed older bundle and accepts one the hub granted by deploying it, once", async () => {
    const d = await device(await enroll("sig-rollback"));
    const [a, b] = [models[0]!, models[1]!];
    const older = refOf(proxy.url, await deploy(a, d.id), a);
    const first = await d.install(older);
    const newer = refOf(proxy.url, await deploy(b, d.id), b);
    const second = await d.install(newer);
    expect(second.manifest.sequence!).toBeGreaterThan(first.manifest.sequence!);

    // an old desired state replayed: the bundle is still on disk (kept for a rollback) and signed
    expect(d.store.has(older.sha256)).toBe(true);
    expect(await refusal(d.install(older))).toBe("KENSA_ERR_BUNDLE_ROLLBACK");

    // the operator deploys the older version: the hub signs a downgrade grant for this device
    expect(await deploy(a, d.id)).toBe(older.sha256);
    const granted = await d.install(older);
    expect(granted.trusted?.grant).toBeGreaterThan(second.manifest.sequence!);

    // forward again, then the same grant replayed: used up
    await deploy(b, d.id);
    await d.install(newer);
    expect(await refusal(d.install(older))).toBe("KENSA_ERR_BUNDLE_ROLLBACK");

    // a grant for another device, or a forged one, does not help either
    const other = await device(await enroll("sig-rollback-2"));
    await deploy(a, other.id);
    await other.install(refOf(proxy.url, older.sha256, a));
    await deploy(b, other.id);
    await other.install(refOf(proxy.url, newer.sha256, b));
    await deploy(a, other.id);
    // the other device's grant, captured and served to this one
    const res = await fetch(`${hub.httpUrl}/api/v1/bundles/${older.sha256}/signatures?pipeline=default`, {
      headers: { authorization: other.authorization },
    });
    const stolen = ((await res.json()) as { downgrade: SignedStatement | null }).downgrade;
    expect(stolen).not.toBeNull();
    proxy.tamper = { signatures: (r) => ({ ...r, downgrade: stolen }) };
    expect(await refusal(d.install(older))).toBe("KENSA_ERR_BUNDLE_ROLLBACK");
    // and a grant for this device signed by a key it does not trust
    await deploy(a, d.id);
    const attacker = foreignKey();
    proxy.tamper = {
      signatures: (r) => ({
        ...r,
        downgrade: r.downgrade && {
          signed: r.downgrade.signed,
          signatures: [attacker.sign("downgrade", Buffer.from(r.downgrade.signed, "utf8"))],
        },
      }),
    };
    expect(await refusal(d.install(older))).toBe("KENSA_ERR_BUNDLE_ROLLBACK");
    proxy.tamper = {};
    // the shadow model is not the running one: signed suffices
    expect((await d.install(older, { use: { pipeline: "default", role: "shadow" }, run: false })).trusted?.role).toBe(
      "shadow",
    );
  });

  it("follows a key rotation, takes bundles signed only by the new key, then refuses the retired one", async () => {
    const d = await device(await enroll("sig-rotate"));
    const [a, c] = [models[0]!, models[2]!];
    const old = refOf(proxy.url, await deploy(a, d.id), a);
    await d.install(old);
    const before = await api.call(signingRoutes.status, {});
    const oldSig = (await api.call(signingRoutes.bundleSignatures, { params: { sha: old.sha256 } })).signatures;
    expect(oldSig.map((s) => s.keyId)).toEqual([before.activeKeyId]);

    const rotated = await api.call(signingRoutes.rotate, {});
    expect(rotated.activeKeyId).not.toBe(before.activeKeyId);
    expect(rotated.root.version).toBe(before.root.version + 1);
    expect(rotated.root.keys.map((k) => k.id).sort()).toEqual([before.activeKeyId, rotated.activeKeyId].sort());

    // a bundle made after the rotation is signed by the new key only
    const fresh = refOf(proxy.url, await deploy(c, d.id), c);
    const sigs = (await api.call(signingRoutes.bundleSignatures, { params: { sha: fresh.sha256 } })).signatures;
    expect(sigs.map((s) => s.keyId)).toEqual([rotated.activeKeyId]);
    expect((await d.install(fresh)).trusted?.signed).toBe(true);
    expect(await d.trustVersion()).toBe(rotated.root.version);

    const retired = await api.call(signingRoutes.retire, { params: { keyId: before.activeKeyId } });
    expect(retired.root.retired).toContain(before.activeKeyId);
    // the hub now serves the old bundle with the new key; a mirror serving its old signature is refused
    await deploy(a, d.id);
    proxy.tamper = { signatures: (r) => ({ ...r, signatures: oldSig }) };
    expect(await refusal(d.install(old))).toBe("KENSA_ERR_BUNDLE_KEY_RETIRED");
    expect(await d.trustVersion()).toBe(retired.root.version);
    proxy.tamper = {};
    expect((await d.install(old)).trusted?.grant).toBeDefined();

    // the hub refuses to retire the key it signs with
    const refused = await api.call(signingRoutes.retire, { params: { keyId: rotated.activeKeyId } }).catch((e) => e);
    expect((refused as { code: string }).code).toBe("KENSA_ERR_SIGNING_KEY_ACTIVE");
  });

  it("ignores a rotation statement the trusted keys did not sign", async () => {
    const d = await device(await enroll("sig-forged-root"));
    const a = models[0]!;
    const ref = refOf(proxy.url, await deploy(a, d.id), a);
    await d.install(ref);
    const version = (await d.trustVersion())!;
    const attacker = foreignKey();
    const forged: TrustRoot = {
      type: "kensa.trust-root/v1",
      version: version + 1,
      threshold: 1,
      keys: [{ id: attacker.keyId, alg: "ed25519", publicKey: attacker.publicKey }],
      retired: [],
      issuedAt: new Date().toISOString(),
    };
    const signed = canonicalJson(forged);
    const statement: SignedStatement = { signed, signatures: [attacker.sign("root", Buffer.from(signed, "utf8"))] };
    const manifest = await bytesOf(ref.url, d);
    proxy.tamper = {
      trust: () => ({ roots: [statement] }),
      signatures: (r) => ({ ...r, signatures: [attacker.sign("bundle", manifest)] }),
    };
    expect(await refusal(d.install(ref, { run: false }))).toBe("KENSA_ERR_BUNDLE_KEY_UNKNOWN");
    expect(await d.trustVersion()).toBe(version);
  });
});

/** Another base64 signature of the same length: one character changed. */
function flip(sig: string): string {
  return (sig[0] === "A" ? "B" : "A") + sig.slice(1);
}

function flipByte(body: Buffer): Buffer {
  const out = Buffer.from(body);
  out[out.length >> 1] = out[out.length >> 1]! ^ 0xff;
  return out;
}

/** What the hub serves the device at `url`, untampered. */
async function bytesOf(url: string, d: SigningDevice): Promise<Buffer> {
  const res = await fetch(url, { headers: { authorization: d.authorization } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}
