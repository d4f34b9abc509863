import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { KensaError } from "@kensa/contracts";

/** What every sealed secret starts with; the version names the cipher and the layout. */
export const ENVELOPE_PREFIX = "kensa:enc:v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** One AES-256 key and the id that sealed secrets name it by. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

/**
 * Seals secrets the hub must be able to read back (webhook signing secrets, the SMTP password)
 * with AES-256-GCM under a key kept outside the database. A sealed secret is the text
 * `kensa:enc:v1:<keyId>:<iv>:<ciphertext>:<tag>` (base64url parts): the key id lets keys
 * rotate (new secrets use the first key, older ones open with any key still listed), and GCM's
 * tag makes a wrong key or an edited value fail loudly instead of yielding garbage. The
 * `purpose` is bound as additional data, so a value copied from one field to another (a
 * webhook secret pasted over the SMTP password) does not open.
 */
export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #current: SecretKey;

  /** `keys[0]` seals; every key opens what it sealed. */
  constructor(keys: readonly SecretKey[]) {
    const first = keys[0];
    if (!first) throw new KensaError("KENSA_ERR_SECRETS_KEY_INVALID", "no secrets key given");
    for (const k of keys) checkKey(k);
    this.#current = first;
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** the id of the key new secrets are sealed with */
  get currentKeyId(): string {
    return this.#current.id;
  }

  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${ENVELOPE_PREFIX}${this.#current.id}:${b64(iv)}:${b64(ct)}:${b64(tag)}`;
  }

  /**
   * The plaintext of a sealed secret. Throws KENSA_ERR_SECRETS_KEY_MISMATCH when no listed key
   * has the envelope's id or the key does not open it (wrong key, edited value).
   */
  open(sealed: string, purpose: string): string {
    const env = parseEnvelope(sealed);
    const key = this.#keys.get(env.keyId);
    if (!key) {
      throw new KensaError(
        "KENSA_ERR_SECRETS_KEY_MISMATCH",
        `a stored secret (${purpose}) was sealed with key "${env.keyId}", which the hub's secrets key does not hold`,
        { keyId: env.keyId, purpose },
      );
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, env.iv);
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(env.tag);
      return Buffer.concat([decipher.update(env.ct), decipher.final()]).toString("utf8");
    } catch {
      throw new KensaError(
        "KENSA_ERR_SECRETS_KEY_MISMATCH",
        `a stored secret (${purpose}) does not open with key "${env.keyId}": the key is not the one that sealed it, or the value was changed`,
        { keyId: env.keyId, purpose },
      );
    }
  }

  /** Opens a sealed value; a plaintext one (before encryption, or given in config) is returned as is. */
  reveal(value: string, purpose: string): string {
    return isSealed(value) ? this.open(value, purpose) : value;
  }

  /** Whether `sealed` is sealed with the current key (else it should be sealed again). */
  isCurrent(sealed: string): boolean {
    return isSealed(sealed) && parseEnvelope(sealed).keyId === this.#current.id;
  }
}

export function isSealed(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

/** The key id a sealed value names. */
export function sealedKeyId(sealed: string): string {
  return parseEnvelope(sealed).keyId;
}

/** A fresh random key; its id is derived from the key so two generated keys never share one. */
export function generateSecretKey(): SecretKey {
  const key = randomBytes(KEY_BYTES);
  return { id: `k${createHash("sha256").update(key).digest("hex").slice(0, 8)}`, key };
}

function parseEnvelope(sealed: string): { keyId: string; iv: Buffer; ct: Buffer; tag: Buffer } {
  const parts = sealed.startsWith(ENVELOPE_PREFIX) ? sealed.slice(ENVELOPE_PREFIX.length).split(":") : [];
  const [keyId, iv, ct, tag] = parts;
  if (parts.length !== 4 || !keyId || iv === undefined || ct === undefined || tag === undefined) {
    throw new KensaError("KENSA_ERR_SECRETS_KEY_MISMATCH", "a stored secret is not a valid kensa:enc:v1 envelope");
  }
  const out = {
    keyId,
    iv: Buffer.from(iv, "base64url"),
    ct: Buffer.from(ct, "base64url"),
    tag: Buffer.from(tag, "base64url"),
  };
  if (out.iv.length !== IV_BYTES || out.tag.length !== TAG_BYTES) {
    throw new KensaError("KENSA_ERR_SECRETS_KEY_MISMATCH", "a stored secret is not a valid kensa:enc:v1 envelope");
  }
  return out;
}

function checkKey(k: SecretKey): void {
  if (!KEY_ID.test(k.id)) {
    throw new KensaError("KENSA_ERR_SECRETS_KEY_INVALID", `secrets key id "${k.id}" must match ${KEY_ID.source}`);
  }
  if (k.key.length !== KEY_BYTES) {
    throw new KensaError(
      "KENSA_ERR_SECRETS_KEY_INVALID",
      `secrets key "${k.id}" must be ${KEY_BYTES} bytes (base64), not ${k.key.length}`,
    );
  }
}

function b64(b: Buffer): string {
  return b.toString("base64url");
}
