import { S3_SECRET_PURPOSE } from "../blobstore/s3/blob-store-from-config.js";
import type { HubConfig } from "../config.js";
import { SecretBox } from "../secrets/secret-box.js";
import { loadSecretsKey } from "../secrets/secrets-key.js";
import { SMTP_PASSWORD_PURPOSE } from "./secrets-at-rest.js";

/** What a value can be sealed for in the hub config. */
export const SEALABLE = { "smtp-password": SMTP_PASSWORD_PURPOSE, "s3-secret-key": S3_SECRET_PURPOSE } as const;

/**
 * Seals `plaintext` with the hub's current secrets key (env KENSA_SECRETS_KEY, `secrets.keyFile`
 * or `<dataDir>/keys/secrets.key`), for a config value such as `smtp.pass`. Never creates the
 * key: throws KENSA_ERR_SECRETS_KEY_MISSING when the hub has not made one yet.
 */
export async function sealConfigSecret(
  config: HubConfig,
  env: Record<string, string | undefined>,
  purpose: keyof typeof SEALABLE,
  plaintext: string,
): Promise<string> {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const { keys } = await loadSecretsKey({
    keyFile: config.secrets.keyFile,
    dataDir: config.dataDir,
    env,
    sealedWith: new Set(),
    log: quiet,
    create: false,
  });
  return new SecretBox(keys).seal(plaintext, SEALABLE[purpose]);
}
