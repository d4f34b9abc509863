import { createHash, randomBytes } from "node:crypto";

/** sha256 (hex) of a session or API token: what the database keeps instead of the token. */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** 32 random bytes, base64url, with an optional prefix that says what the secret is. */
export function newSecretToken(prefix = ""): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}
