import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { FsBlobStore } from "../src/blobstore/fs/fs-blob-store.js";
import { blobStoreFromConfig, S3_SECRET_PURPOSE, s3Options } from "../src/blobstore/s3/blob-store-from-config.js";
import { S3BlobStore } from "../src/blobstore/s3/s3-blob-store.js";
import { parseHubConfig } from "../src/config.js";
import { SecretBox } from "../src/secrets/secret-box.js";

const dirs: Array<{ remove(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of dirs) await d.remove();
});

const s3 = (extra: Record<string, unknown> = {}) => ({
  kind: "s3",
  s3: { endpoint: "http://127.0.0.1:9000", bucket: "kensa", forcePathStyle: true, ...extra },
});

function deps(env: Record<string, string> = {}, box?: SecretBox) {
  const warnings: string[] = [];
  return {
    warnings,
    d: {
      dataDir: "/data",
      env,
      reveal: (v: string, purpose: string) => (box ? box.reveal(v, purpose) : v),
      log: { warn: (_o: object, msg: string) => warnings.push(msg) },
    },
  };
}

describe("blobs config", () => {
  it("defaults to the data dir's folder, and fills the S3 defaults", async () => {
    const config = parseHubConfig({ dataDir: "/data" });
    expect(config.blobs).toEqual({ kind: "fs" });
    const store = await blobStoreFromConfig(config.blobs, deps().d);
    expect(store).toBeInstanceOf(FsBlobStore);
    expect((store as FsBlobStore).path("a".repeat(64))).toBe(join("/data", "blobs", "sha256", "aa", "a".repeat(64)));
    const withS3 = parseHubConfig({ blobs: s3() }).blobs;
    expect(withS3.s3).toMatchObject({
      region: "us-east-1",
      prefix: "",
      checksum: "sha256",
      partSizeBytes: 16 * 1024 * 1024,
      maxAttempts: 3,
      presign: { enabled: false, ttlSeconds: 300 },
    });
    // static credentials: the SDK's default chain would look for an instance role off this machine
    const creds = { KENSA_S3_ACCESS_KEY_ID: "a", KENSA_S3_SECRET_ACCESS_KEY: "b" };
    expect(await blobStoreFromConfig(withS3, deps(creds).d)).toBeInstanceOf(S3BlobStore);
  });

  it("rejects a kind without its section, a bad bucket or prefix, and two secrets", () => {
    const bad = (blobs: unknown) => () => parseHubConfig({ blobs });
    expect(bad({ kind: "s3" })).toThrow(/\/blobs\/s3: required when kind is "s3"/);
    expect(bad(s3({ bucket: "Not_A_Bucket" }))).toThrow(/\/blobs\/s3\/bucket/);
    expect(bad(s3({ prefix: "no-slash" }))).toThrow(/\/blobs\/s3\/prefix/);
    expect(bad(s3({ partSizeBytes: 1024 }))).toThrow(/\/blobs\/s3\/partSizeBytes/);
    expect(bad(s3({ secretAccessKey: "x", secretAccessKeyFile: "/f" }))).toThrow(/not both/);
    expect(bad({ kind: "gcs" })).toThrow(/\/blobs\/kind/);
  });

  it("takes credentials sealed in the config, from a file, or from env; none leaves the SDK's chain", async () => {
    const box = new SecretBox([{ id: "k1", key: randomBytes(32) }]);
    const sealed = box.seal("sealed-secret", S3_SECRET_PURPOSE);
    const cfg = (extra: Record<string, unknown>) => parseHubConfig({ blobs: s3(extra) }).blobs.s3!;
    const a = deps({}, box);
    expect((await s3Options(cfg({ accessKeyId: "AK", secretAccessKey: sealed }), a.d)).credentials).toEqual({
      accessKeyId: "AK",
      secretAccessKey: "sealed-secret",
    });
    expect(a.warnings).toEqual([]);
    // sealed for another field: does not open
    const smtp = box.seal("x", "smtp-password");
    await expect(s3Options(cfg({ accessKeyId: "AK", secretAccessKey: smtp }), a.d)).rejects.toThrow();

    const plain = deps();
    await s3Options(cfg({ accessKeyId: "AK", secretAccessKey: "plain" }), plain.d);
    expect(plain.warnings[0]).toMatch(/plaintext/);

    const d = await tempDir("kensa-blobs-config-");
    dirs.push(d);
    const file = join(d.path, "secret");
    await writeFile(file, "from-file\n", { mode: 0o600 });
    expect((await s3Options(cfg({ accessKeyId: "AK", secretAccessKeyFile: file }), deps().d)).credentials).toEqual({
      accessKeyId: "AK",
      secretAccessKey: "from-file",
    });
    await expect(
      s3Options(cfg({ accessKeyId: "AK", secretAccessKeyFile: join(d.path, "absent") }), deps().d),
    ).rejects.toMatchObject({ code: "KENSA_ERR_CONFIG_INVALID" });

    const env = { KENSA_S3_ACCESS_KEY_ID: "EK", KENSA_S3_SECRET_ACCESS_KEY: "ES", KENSA_S3_SESSION_TOKEN: "T" };
    expect((await s3Options(cfg({}), deps(env).d)).credentials).toEqual({
      accessKeyId: "EK",
      secretAccessKey: "ES",
      sessionToken: "T",
    });
    expect((await s3Options(cfg({}), deps().d)).credentials).toBeUndefined();
    await expect(s3Options(cfg({ accessKeyId: "AK" }), deps().d)).rejects.toMatchObject({
      code: "KENSA_ERR_CONFIG_INVALID",
      message: expect.stringContaining("/blobs/s3/secretAccessKey"),
    });
  });

  it("spools under the data dir and presigns only when enabled", async () => {
    const o = await s3Options(
      parseHubConfig({ blobs: s3({ presign: { enabled: true, ttlSeconds: 60 } }) }).blobs.s3!,
      deps().d,
    );
    expect(o.spoolDir).toBe(join("/data", "tmp", "s3"));
    expect(o.presign).toEqual({ ttlSeconds: 60 });
    expect((await s3Options(parseHubConfig({ blobs: s3() }).blobs.s3!, deps().d)).presign).toBeUndefined();
  });
});

describe("blobs config at start", () => {
  it("warns when the bucket does not answer, without refusing to start", async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const { d, warnings } = deps({ KENSA_S3_ACCESS_KEY_ID: "a", KENSA_S3_SECRET_ACCESS_KEY: "b" });
    const blobs = parseHubConfig({
      blobs: s3({ endpoint: `http://127.0.0.1:${closed}`, maxAttempts: 1, timeoutMs: 2_000 }),
    }).blobs;
    const store = await blobStoreFromConfig(blobs, d);
    expect(store).toBeInstanceOf(S3BlobStore);
    await expect
      .poll(() => warnings, { timeout: 5_000 })
      .toEqual(["the S3 blob store does not answer: blob reads and uploads fail until it does"]);
  });
});
