import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { KensaError } from "@kensa/contracts";

/** Says what a leaked string is (and lets secret scanners find it). */
export const WORKER_TOKEN_PREFIX = "kensa_wkr_";

/** A new worker token and the digest the hub's config keeps of it. */
export function newWorkerToken(): { token: string; sha256: string } {
  const token = `${WORKER_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { token, sha256: workerTokenDigest(token) };
}

export function workerTokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * The worker tokens a hub accepts (`training.remote.tokens`, digests by name). A worker token
 * grants the worker routes only: claiming and reporting training jobs, and reading their inputs.
 */
export class WorkerTokens {
  #byDigest: Array<{ name: string; digest: Buffer }>;

  constructor(tokens: ReadonlyArray<{ name: string; sha256: string }>) {
    this.#byDigest = tokens.map((t) => ({ name: t.name, digest: Buffer.from(t.sha256, "hex") }));
  }

  /** The token's name; throws KENSA_ERR_WORKER_TOKEN_INVALID for a missing or unknown token. */
  verify(authorization: string | undefined): string {
    const header = authorization ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!token.startsWith(WORKER_TOKEN_PREFIX)) {
      throw new KensaError(
        "KENSA_ERR_WORKER_TOKEN_INVALID",
        token
          ? "this is not a worker token (kensa_wkr_…)"
          : "send the worker token (Authorization: Bearer kensa_wkr_…)",
      );
    }
    const digest = createHash("sha256").update(token).digest();
    // compare with every entry, so the time taken does not say which one came close
    let name: string | null = null;
    for (const t of this.#byDigest) if (timingSafeEqual(t.digest, digest)) name ??= t.name;
    if (!name) throw new KensaError("KENSA_ERR_WORKER_TOKEN_INVALID", "unknown or revoked worker token");
    return name;
  }
}
