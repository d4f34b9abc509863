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
