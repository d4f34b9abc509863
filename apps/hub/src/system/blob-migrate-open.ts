import type { BlobStore } from "../blobstore/blob-store.js";
import { blobStoreFromConfig } from "../blobstore/s3/blob-store-from-config.js";
import type { BlobsConfig } from "../config/blobs-config.js";
import type { HubConfig } from "../config.js";
import { isSealed, SecretBox, sealedKeyId } from "../secrets/secret-box.js";
import { loadSecretsKey } from "../secrets/secrets-key.js";

/**
 * The blob store a `blobs` section names, opened by a command beside (or without) a running
 * hub: a sealed S3 secret is opened with the hub's secrets key, which is never created here.
 */
export async function openBlobStoreOffline(
  config: HubConfig,
  blobs: BlobsConfig,
  env: Record<string, string | undefined>,
  log: { warn(o: object, msg: string): void } = { warn() {} },
): Promise<BlobStore> {
  const secret = blobs.s3?.secretAccessKey;
  let box: SecretBox | null = null;
  if (secret !== undefined && isSealed(secret)) {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const { keys } = await loadSecretsKey({
      keyFile: config.secrets.keyFile,
      dataDir: config.dataDir,
      env,
      sealedWith: new Set([sealedKeyId(secret)]),
      log: quiet,
      create: false,
    });
    box = new SecretBox(keys);
  }
  return blobStoreFromConfig(blobs, {
    dataDir: config.dataDir,
    env,
    reveal: (value, purpose) => (box ? box.reveal(value, purpose) : value),
    log,
  });
}
