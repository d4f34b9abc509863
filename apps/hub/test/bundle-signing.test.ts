import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BundleSignatures,
  type KensaError,
  registryRoutes,
  type SigningStatus,
  signingInput,
  type TrustRoot,
} from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, describe, expect, it } from "vitest";
import { createHub } from "../src/hub.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";

const quiet = {
  http: { host: "127.0.0.1", port: 0 },
  mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
};

/** Registers a blemish model and deploys it to `deviceId`; returns the deployment's reply. */
async function deployModel(t: TestHub, projectId: string, deviceId: string, size = 32) {
  const form = new FormData();
  form.set("projectId", projectId);
  const model = buildBlemishModel({ width: size, height: size });
  form.set("manifest", JSON.stringify(model.manifest));
  form.set("model", new Blob([model.onnx as Uint8Array<ArrayBuffer>]), `m${size}.onnx`);
  const version = await t.client.call(registryRoutes.upload, { upload: form });
  return t.call<{ bundleSha256: string; code?: string }>("POST", "/api/v1/deployments", {
    body: { modelVersionId: version.id, target: { deviceIds: [deviceId] } },
  });
}

function rawPublicKey(pem: string): string {
  const jwk = createPublicKey(createPrivateKey(pem)).export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url").toString("base64");
}

const list = await backends("bundle-signing");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("the hub's signing key ($name)", (backend) => {
  it("is made on first start as a 0600 file, signs each bundle over its exact bytes, and roots its trust", async () => {
    const t = await startHub({ database: backend.database() });
    try {
      const keyFile = join(t.dir.path, "signing", "bundle-signing.key");
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect((await stat(join(t.dir.path, "signing"))).mode & 0o777).toBe(0o700);
      const { projectId, secrets } = await seed(t.call, "sig-hub", [{ id: "cam-1" }]);
      const dep = await deployModel(t, projectId, "cam-1");
      expect(dep.status).toBe(201);
      const sha = dep.json.bundleSha256;
      const device = `Basic ${Buffer.from(`cam-1:${secrets["cam-1"]}`).toString("base64")}`;
      const manifest = await fetch(`${t.httpUrl}/api/v1/bundles/${sha}`, { headers: { authorization: device } });
      const bytes = Buffer.from(await manifest.arrayBuffer());
      expect(JSON.parse(bytes.toString("utf8")).sequence).toBe(1);
      const sigs = await t.call<BundleSignatures>("GET", `/api/v1/bundles/${sha}/signatures`, { auth: device });
      expect(sigs.status).toBe(200);
      const pub = createPublicKey(createPrivateKey(await readFile(keyFile, "utf8")));
      const [sig] = sigs.json.signatures;
      expect(verify(null, signingInput("bundle", bytes), pub, Buffer.from(sig!.sig, "base64"))).toBe(true);
      // the domain prefix: the same signature does not pass for a trust root or a grant
      expect(verify(null, signingInput("root", bytes), pub, Buffer.from(sig!.sig, "base64"))).toBe(false);
      const status = await t.call<SigningStatus>("GET", "/api/v1/signing");
      expect(status.json).toMatchObject({ signer: "key-file", activeKeyId: sig!.keyId, sequence: 1 });
      expect(status.json.root.keys[0]!.publicKey).toBe(rawPublicKey(await readFile(keyFile, "utf8")));
      // the same version deployed again keeps its bundle (and sequence): devices fetch nothing
      const again = await t.call<{ bundleSha256: string }>("POST", "/api/v1/deployments", {
        body: { modelVersionId: JSON.parse(bytes.toString("utf8")).modelVersionId, target: { deviceIds: ["cam-1"] } },
      });
      expect(again.json.bundleSha256).toBe(sha);
      // key management is the admin's alone
      const other = await t.call("POST", "/api/v1/signing/rotate", { auth: device });
      expect(other.status).toBe(403);
      // a device of another project is told the bundle does not exist
      const { secrets: s2 } = await seed(t.call, "sig-other", [{ id: "cam-x" }]);
      const foreign = `Basic ${Buffer.from(`cam-x:${s2["cam-x"]}`).toString("base64")}`;
      const leak = await t.call<{ error: { code: string } }>("GET", `/api/v1/bundles/${sha}/signatures`, {
        auth: foreign,
      });
      expect(leak.json.error.code).toBe("KENSA_ERR_BUNDLE_NOT_FOUND");
      // rotation makes a new 0600 key file and keeps the previous one (0600) until it is retired
      const rotated = await t.call<SigningStatus>("POST", "/api/v1/signing/rotate");
      expect(rotated.status).toBe(200);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      const previous = join(t.dir.path, "signing", `bundle-signing.key.${sig!.keyId}.previous`);
      expect((await stat(previous)).mode & 0o777).toBe(0o600);
      const retired = await t.call<SigningStatus>("POST", `/api/v1/signing/keys/${sig!.keyId}/retire`);
      expect(retired.json.root.retired).toEqual([sig!.keyId]);
      await expect(stat(previous)).rejects.toMatchObject({ code: "ENOENT" });
      const unknown = await t.call<{ error: { code: string } }>("POST", "/api/v1/signing/keys/0123456789abcdef/retire");
      expect(unknown.json.error.code).toBe("KENSA_ERR_SIGNING_KEY_NOT_FOUND");
    } finally {
      await t.close();
    }
  });
});

describe("the hub's signing key at start", () => {
  it("refuses to start with a key file others can read, or with a key its trust root does not list", async () => {
    const dir = await tempDir();
    try {
      const first = await createHub({ ...quiet, dataDir: dir.path, logLevel: "silent" });
      await first.close();
      const keyFile = join(dir.path, "signing", "bundle-signing.key");
      await chmod(keyFile, 0o644);
      const insecure = await createHub({ ...quiet, dataDir: dir.path, logLevel: "silent" }).catch((e: KensaError) => e);
      expect((insecure as KensaError).code).toBe("KENSA_ERR_SIGNING_KEY_INSECURE");
      await chmod(keyFile, 0o600);
      // a key swapped by hand: devices would refuse all it signs, so the hub does not start
      const other = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
      const swapped = join(dir.path, "other.key");
      await writeFile(swapped, other, { mode: 0o600 });
      const untrusted = await createHub({
        ...quiet,
        dataDir: dir.path,
        logLevel: "silent",
        signing: { keyFile: swapped },
      }).catch((e: KensaError) => e);
      expect((untrusted as KensaError).code).toBe("KENSA_ERR_SIGNING_KEY_UNTRUSTED");
    } finally {
      await dir.remove();
    }
  });
});

describe("an external signer command", () => {
  it("signs through the command (bytes on stdin, base64 on stdout) and a signer that lies stops the deployment", async () => {
    const dir = await tempDir();
    const key = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const keyPath = join(dir.path, "kms.key");
    await writeFile(keyPath, key, { mode: 0o600 });
    const script = join(dir.path, "signer.mjs");
    await writeFile(
      script,
      [
        'import { createPrivateKey, sign } from "node:crypto";',
        'import { readFileSync } from "node:fs";',
        "const chunks = [];",
        "for await (const c of process.stdin) chunks.push(c);",
        'const k = createPrivateKey(readFileSync(process.argv[2], "utf8"));',
        'process.stdout.write(sign(null, Buffer.concat(chunks), k).toString("base64") + "\\n");',
      ].join("\n"),
    );
    const command = [process.execPath, script, keyPath];
    const t = await startHub({ signing: { command, publicKey: rawPublicKey(key) } }, { dir });
    try {
      const status = await t.call<SigningStatus>("GET", "/api/v1/signing");
      expect(status.json.signer).toBe("command");
      const trust = await t.call<{ roots: Array<{ signed: string }> }>("GET", "/api/v1/signing/trust");
      const root = JSON.parse(trust.json.roots[0]!.signed) as TrustRoot;
      expect(root.keys[0]!.publicKey).toBe(rawPublicKey(key));
      const { projectId } = await seed(t.call, "sig-cmd", [{ id: "cam-c" }]);
      expect((await deployModel(t, projectId, "cam-c")).status).toBe(201);
      const rotate = await t.call<{ error: { code: string } }>("POST", "/api/v1/signing/rotate");
      expect(rotate.json.error.code).toBe("KENSA_ERR_SIGNING_ROTATE_UNSUPPORTED");
      // the command now signs with another key: the hub checks every signature and refuses
      await writeFile(keyPath, generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }));
      const refused = await deployModel(t, projectId, "cam-c", 40);
      expect(refused.status).toBe(502);
      expect((refused.json as unknown as { error: { code: string } }).error.code).toBe("KENSA_ERR_SIGNING_FAILED");
      await writeFile(keyPath, key, { mode: 0o600 });
      // a command hub rotates to the signer `signing.rotateTo` names, through a root both keys sign
      const nextKey = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
      const nextPath = join(dir.path, "kms-next.key");
      await writeFile(nextPath, nextKey, { mode: 0o600 });
      await t.hub.close();
      const t2 = await startHub(
        {
          signing: {
            command,
            publicKey: rawPublicKey(key),
            rotateTo: { command: [process.execPath, script, nextPath], publicKey: rawPublicKey(nextKey) },
          },
        },
        { dir },
      );
      try {
        const rotated = await t2.call<SigningStatus>("POST", "/api/v1/signing/rotate");
        expect(rotated.status).toBe(200);
        expect(rotated.json.root.keys.map((k) => k.publicKey)).toEqual([rawPublicKey(key), rawPublicKey(nextKey)]);
        const chain = await t2.call<{ roots: Array<{ signed: string; signatures: Array<{ keyId: string }> }> }>(
          "GET",
          "/api/v1/signing/trust?since=1",
        );
        expect(chain.json.roots[0]!.signatures.map((x) => x.keyId)).toEqual(rotated.json.root.keys.map((k) => k.id));
        const { projectId: p2 } = await seed(t2.call, "sig-cmd-2", [{ id: "cam-d" }]);
        const dep = await deployModel(t2, p2, "cam-d", 48);
        const sigs = await t2.call<BundleSignatures>("GET", `/api/v1/bundles/${dep.json.bundleSha256}/signatures`);
        expect(sigs.json.signatures.map((x) => x.keyId)).toEqual([rotated.json.activeKeyId]);
      } finally {
        await t2.hub.close();
      }
    } finally {
      await t.close();
      await dir.remove();
    }
  });
});
