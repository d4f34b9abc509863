import { type Kysely, sql } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/**
 * True when the database refused the data itself (a constraint, a value it cannot hold), so
 * trying again can never succeed; false for the environment failing (disk full, I/O error,
 * lost connection, timeout), which a later attempt may get past.
 */
export function isPermanentStorageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  // better-sqlite3: SQLITE_CONSTRAINT, SQLITE_CONSTRAINT_UNIQUE, SQLITE_MISMATCH, SQLITE_TOOBIG
  if (code.startsWith("SQLITE_")) {
    return code.startsWith("SQLITE_CONSTRAINT") || code === "SQLITE_MISMATCH" || code === "SQLITE_TOOBIG";
  }
  // PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation)
  return /^2[23][0-9A-Z]{3}$/.test(code);
}

/** PostgreSQL aborted the transaction for another's sake (40001 serialization, 40P01 deadlock). */
export function isConflictError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01";
}

/**
 * Runs `fn` in a transaction on one connection and, when it fails, throws the error that made
 * it fail. Kysely's own transaction throws the ROLLBACK's error instead when the database has
 * already rolled back by itself — SQLite does on a full disk (SQLITE_FULL) — which hides the
 * cause ("cannot rollback - no transaction is active").
 */
export function inTransaction<T>(db: Kysely<HubDatabase>, fn: (trx: Kysely<HubDatabase>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`BEGIN`.execute(conn);
    let result: T;
    try {
      result = await fn(conn);
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
    try {
      await sql`COMMIT`.execute(conn);
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
    return result;
  });
}
