import type { User } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { newSecretToken, tokenDigest } from "./token-digest.js";
import { toUser } from "./user-service.js";

/** ms between writes of a session's last-seen time: a busy console must not write on every call */
const TOUCH_EVERY_MS = 60_000;

/** Console sign-ins: a random cookie token per session; the database keeps its sha256 alone. */
export class SessionService {
  #db: Kysely<HubDatabase>;
  #ttlMs: number;

  /** `ttlMs`: ms from sign-in until the session expires */
  constructor(db: Kysely<HubDatabase>, ttlMs: number) {
    this.#db = db;
    this.#ttlMs = ttlMs;
  }

  /** ms a session lives */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  async create(userId: string, ip: string | null): Promise<{ token: string; expiresAt: string }> {
    const token = newSecretToken();
    const now = Date.now();
    const expiresAt = new Date(now + this.#ttlMs).toISOString();
    const at = new Date(now).toISOString();
    // sign-ins are rare enough to sweep expired sessions here instead of on a timer
    await this.#db.deleteFrom("sessions").where("expires_at", "<=", at).execute();
    await this.#db
      .insertInto("sessions")
      .values({
        token_hash: tokenDigest(token),
        user_id: userId,
        created_at: at,
        expires_at: expiresAt,
        last_seen_at: at,
        ip,
      })
      .execute();
    return { token, expiresAt };
  }

  /** The enabled user of a live session, else null. */
  async resolve(token: string): Promise<User | null> {
    const hash = tokenDigest(token);
    const row = await this.#db
      .selectFrom("sessions")
      .innerJoin("users", "users.id", "sessions.user_id")
      .selectAll("users")
      .select(["sessions.expires_at", "sessions.last_seen_at"])
      .where("sessions.token_hash", "=", hash)
      .executeTakeFirst();
    if (!row || Number(row.disabled) !== 0) return null;
    const now = Date.now();
    if (Date.parse(row.expires_at) <= now) {
      await this.#db.deleteFrom("sessions").where("token_hash", "=", hash).execute();
      return null;
    }
    if (now - Date.parse(row.last_seen_at) >= TOUCH_EVERY_MS) {
      await this.#db.updateTable("sessions").set({ last_seen_at: isoNow() }).where("token_hash", "=", hash).execute();
    }
    return toUser(row);
  }

  /** Ends the session; returns its user id, or null when there was no such session. */
  async revoke(token: string): Promise<string | null> {
    const hash = tokenDigest(token);
    const row = await this.#db
      .selectFrom("sessions")
      .select("user_id")
      .where("token_hash", "=", hash)
      .executeTakeFirst();
    if (!row) return null;
    await this.#db.deleteFrom("sessions").where("token_hash", "=", hash).execute();
    return row.user_id;
  }
}
