import { readFile } from "node:fs/promises";
import { Agent as HttpsAgent } from "node:https";
import { join } from "node:path";
import { KensaError } from "@kensa/contracts";
import type { BlobsConfig, S3BlobsConfig } from "../../config/blobs-config.js";
import type { BlobStore } from "../blob-store.js";
import { FsBlobStore } from "../fs/fs-blob-store.js";
import type { S3BlobStoreOptions } from "./s3-blob-store.js";

/** The purpose a sealed `blobs.s3.secretAccessKey` is sealed for (`kensa hub seal-secret --for s3-secret-key`). */
export const S3_SECRET_PURPOSE = "s3-secret-key";

export interface BlobStoreDeps {
  dataDir: string;
  env: Record<string, string | undefined>;
  /** opens a sealed config value (the hub's secrets key); plaintext passes through */
  reveal: (value: string, purpose: string) => string;
  log: { warn(o: object, msg: string): void };
}

/** The blob store a `blobs` config section names: the fs folder or the S3 bucket. */
export async function blobStoreFromConfig(blobs: BlobsConfig, deps: BlobStoreDeps): Promise<BlobStore> {
  if (blobs.kind === "fs" || !blobs.s3) return new FsBlobStore(blobs.dir ?? join(deps.dataDir, "blobs"));
  // the AWS SDK loads only for a hub that uses it
  const { S3BlobStore } = await import("./s3-blob-store.js");
  const store = new S3BlobStore(await s3Options(blobs.s3, deps));
  // said at start rather than at the first upload; storage that comes up later is used then
  const { endpoint, bucket } = blobs.s3;
  store.probe().catch((err: KensaError) => {
    deps.log.warn(
      { code: err.code, details: err.details, endpoint, bucket },
      "the S3 blob store does not answer: blob reads and uploads fail until it does",
    );
  });
  return store;
}

export async function s3Options(s3: S3BlobsConfig, deps: BlobStoreDeps): Promise<S3BlobStoreOptions> {
  const credentials = await s3Credentials(s3, deps);
  const ca = s3.caFile ? await readConfigFile(s3.caFile, "/blobs/s3/caFile") : undefined;
  return {
    bucket: s3.bucket,
    prefix: s3.prefix,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(credentials ? { credentials } : {}),
    checksum: s3.checksum,
    partSizeBytes: s3.partSizeBytes,
    partConcurrency: s3.partConcurrency,
    maxAttempts: s3.maxAttempts,
    timeoutMs: s3.timeoutMs,
    spoolDir: s3.spoolDir ?? join(deps.dataDir, "tmp", "s3"),
    ...(s3.presign.enabled
      ? {
          presign: {
            ttlSeconds: s3.presign.ttlSeconds,
            ...(s3.presign.endpoint ? { endpoint: s3.presign.endpoint } : {}),
          },
        }
      : {}),
    ...(ca ? { agent: new HttpsAgent({ keepAlive: true, ca }) } : {}),
  };
}

/**
 * Static credentials from the config (a sealed secret, or a file) or env KENSA_S3_*; none
 * leaves the SDK its default chain (AWS_* env, shared profile, instance or pod role).
 */
async function s3Credentials(
  s3: S3BlobsConfig,
  deps: BlobStoreDeps,
): Promise<S3BlobStoreOptions["credentials"] | undefined> {
  const accessKeyId = s3.accessKeyId ?? deps.env.KENSA_S3_ACCESS_KEY_ID;
  let secret: string | undefined;
  if (s3.secretAccessKey !== undefined) {
    if (!s3.secretAccessKey.startsWith("kensa:enc:")) {
      deps.log.warn(
        { key: "blobs.s3.secretAccessKey" },
        "the S3 secret key is in plaintext in the hub config: seal it (kensa hub seal-secret --for s3-secret-key), or use blobs.s3.secretAccessKeyFile or env KENSA_S3_SECRET_ACCESS_KEY",
      );
    }
    secret = deps.reveal(s3.secretAccessKey, S3_SECRET_PURPOSE);
  } else if (s3.secretAccessKeyFile !== undefined) {
    secret = (await readConfigFile(s3.secretAccessKeyFile, "/blobs/s3/secretAccessKeyFile")).replace(/\r?\n$/, "");
  } else {
    secret = deps.env.KENSA_S3_SECRET_ACCESS_KEY;
  }
  if (!accessKeyId && !secret) return undefined;
  if (!accessKeyId || !secret) {
    const path = accessKeyId ? "/blobs/s3/secretAccessKey" : "/blobs/s3/accessKeyId";
    const message = "an access key id and a secret access key go together (config, file or env KENSA_S3_*)";
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `hub config is invalid: ${path}: ${message}`, {
      issues: [{ path, message }],
    });
  }
  const sessionToken = deps.env.KENSA_S3_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey: secret, ...(sessionToken ? { sessionToken } : {}) };
}

async function readConfigFile(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      `hub config is invalid: ${key}: cannot read ${path}: ${(err as Error).message}`,
      { issues: [{ path: key, message: (err as Error).message }] },
    );
  }
}
