import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { KensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import { tightenMode } from "./file-modes.js";
import { generateSecretKey, type SecretKey } from "./secret-box.js";

/** The env variable that may hold the key file's content instead of a file */
export const SECRETS_KEY_ENV = "KENSA_SECRETS_KEY";

/** Where the secrets key lives when neither `secrets.keyFile` nor the env variable names one. */
export function defaultSecretsKeyFile(dataDir: string): string {
  return join(dataDir, "keys", "secrets.key");
}

export interface SecretsKeySource {
  keys: SecretKey[];
  /** "env" or the file the keys came from */
  from: string;
  /** true when this start generated the key file */
  created: boolean;
}

/**
 * The hub's secrets keys, from env KENSA_SECRETS_KEY, else the configured key file, else
 * `<dataDir>/keys/secrets.key`. A missing file is generated (mode 0600 in a 0700 folder) only
 * while no sealed secret exists: otherwise the secrets were sealed with a key this hub does not
 * have, and generating another would lose them, so the start is refused.
 *
 * The format is one key a line, `<keyId>:<base64 of 32 bytes>`; the first line seals new
 * secrets, every line opens what it sealed (rotation: put a new key first, restart, and the
 * hub re-seals every stored secret with it; drop the old line after that start).
 */
export async function loadSecretsKey(opts: {
  keyFile: string | undefined;
  dataDir: string;
  env: Record<string, string | undefined>;
  /** key ids that stored secrets name; empty when nothing is sealed yet */
  sealedWith: ReadonlySet<string>;
  log: Logger;
  /** false: a missing file is an error (tools beside the hub never make the key) */
  create?: boolean;
}): Promise<SecretsKeySource> {
  const fromEnv = opts.env[SECRETS_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return { keys: parseKeyFile(fromEnv, `env ${SECRETS_KEY_ENV}`), from: "env", created: false };
  }
  const file = opts.keyFile ?? defaultSecretsKeyFile(opts.dataDir);
  let text: string | null = null;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new KensaError(
        "KENSA_ERR_SECRETS_KEY_INVALID",
        `cannot read the secrets key ${file}: ${(err as Error).message}`,
      );
    }
  }
  if (text !== null) {
    await tightenMode(file, 0o600, opts.log);
    return { keys: parseKeyFile(text, file), from: file, created: false };
  }
  if (opts.create === false) {
    throw new KensaError(
      "KENSA_ERR_SECRETS_KEY_MISSING",
      `the secrets key ${file} does not exist (and env ${SECRETS_KEY_ENV} is not set): start the hub once to generate it, or set secrets.keyFile`,
      { keyFile: file },
    );
  }
  if (opts.sealedWith.size > 0) {
    const ids = [...opts.sealedWith].join(", ");
    throw new KensaError(
      "KENSA_ERR_SECRETS_KEY_MISSING",
      `stored secrets are sealed with key ${ids}, but the secrets key ${file} does not exist (and env ${SECRETS_KEY_ENV} is not set): restore the key file (every replica needs the same one) or set secrets.keyFile`,
      { keyFile: file, keyIds: [...opts.sealedWith] },
    );
  }
  const key = generateSecretKey();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, `${key.id}:${key.key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    // another replica on the same data dir wrote it first: theirs stands
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      return { keys: parseKeyFile(await readFile(file, "utf8"), file), from: file, created: false };
    }
    throw err;
  }
  opts.log.info(
    { keyFile: file, keyId: key.id },
    "secrets key generated; back it up, and give every replica the same file",
  );
  return { keys: [key], from: file, created: true };
}

/** Parses `<keyId>:<base64 key>` lines (blank lines and `#` comments ignored). */
export function parseKeyFile(text: string, where: string): SecretKey[] {
  const keys: SecretKey[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new KensaError(
        "KENSA_ERR_SECRETS_KEY_INVALID",
        `${where} line ${i + 1}: expected <keyId>:<base64 of 32 bytes>`,
      );
    }
    const key = Buffer.from(line.slice(colon + 1), "base64");
    if (key.length !== 32) {
      throw new KensaError(
        "KENSA_ERR_SECRETS_KEY_INVALID",
        `${where} line ${i + 1}: the key must be 32 bytes in base64, not ${key.length}`,
      );
    }
    keys.push({ id: line.slice(0, colon), key });
  }
  if (keys.length === 0) throw new KensaError("KENSA_ERR_SECRETS_KEY_INVALID", `${where} holds no key`);
  return keys;
}
