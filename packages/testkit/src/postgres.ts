import { userInfo } from "node:os";
import pg from "pg";
import { tcpReachable } from "./services.js";

/**
 * The PostgreSQL tests use: KENSA_TEST_PG_URL, else database `test` on 127.0.0.1:5432 as user
 * postgres, else as the current user (trust auth); null when none answers.
 */
export async function findPostgres(): Promise<string | null> {
  if (!process.env.KENSA_TEST_PG_URL && !(await tcpReachable("127.0.0.1", 5432))) return null;
  const candidates = process.env.KENSA_TEST_PG_URL
    ? [process.env.KENSA_TEST_PG_URL]
    : [
        "postgres://postgres@127.0.0.1:5432/test",
        `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`,
      ];
  for (const url of candidates) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("select 1");
      return url;
    } catch {
      // the next candidate
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return null;
}
