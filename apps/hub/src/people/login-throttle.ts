import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** failed sign-ins per (username, address) allowed within WINDOW_MS */
const MAX_FAILURES = 5;
/** ms */
const WINDOW_MS = 60_000;

/**
 * Slows password guessing: after 5 failures for one username from one address within a
 * minute, further attempts are refused until the oldest failure leaves the window. Keyed by
 * both, so an attacker elsewhere cannot lock a user out. The failures are rows of the metadata
 * store, so hub replicas behind one load balancer count them together; rows older than the
 * window are deleted as new failures arrive, so a spray of names cannot grow the table beyond
 * a minute's worth.
 */
export class LoginThrottle {
  #db: Kysely<HubDatabase>;
  #now: () => number;

  constructor(db: Kysely<HubDatabase>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** ms until another attempt is allowed; 0 when it is allowed now */
  async retryAfterMs(username: string, ip: string): Promise<number> {
    const now = this.#now();
    const recent = await this.#db
      .selectFrom("login_failures")
      .select("failed_at")
      .where("key", "=", key(username, ip))
      .where("failed_at", ">", iso(now - WINDOW_MS))
      .orderBy("failed_at", "desc")
      .limit(MAX_FAILURES)
      .execute();
    if (recent.length < MAX_FAILURES) return 0;
    const oldest = Date.parse(recent[recent.length - 1]!.failed_at);
    return Math.max(1, oldest + WINDOW_MS - now);
  }

  async failed(username: string, ip: string): Promise<void> {
    const now = this.#now();
    await this.#db
      .deleteFrom("login_failures")
      .where("failed_at", "<=", iso(now - WINDOW_MS))
      .execute();
    await this.#db
      .insertInto("login_failures")
      .values({ key: key(username, ip), failed_at: iso(now) })
      .execute();
  }

  async succeeded(username: string, ip: string): Promise<void> {
    await this.#db.deleteFrom("login_failures").where("key", "=", key(username, ip)).execute();
  }
}

function key(username: string, ip: string): string {
  // JSON rather than a NUL separator: PostgreSQL text cannot hold NUL
  return JSON.stringify([username.trim().toLowerCase(), ip]);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
