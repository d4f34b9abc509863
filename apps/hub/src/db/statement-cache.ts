import type { Database, Statement } from "better-sqlite3";
import type { SqliteDatabase } from "kysely";

/**
 * The connection Kysely's SQLite dialect is given, with its prepared statements kept by SQL text
 * (least recently used first out). Kysely prepares every query it runs; for the ingest's
 * 250-row inserts that parse was 5 % of the hub's time at 10,000 events/s. Queries run one at a
 * time on this connection (Kysely holds it for a whole transaction or stream), so a statement is
 * never used twice at once; SQLite prepares it again by itself after a schema change.
 */
export function cachingStatements(database: Database, max = 500): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (stmt) {
        // most recently used goes last
        cache.delete(sql);
      } else {
        stmt = database.prepare(sql);
        if (cache.size >= max) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
