import { statSync } from "node:fs";
import { join } from "node:path";
import { type TempDir, tempDir } from "@kensa/testkit";
import SqliteDriver from "better-sqlite3";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { openDatabase } from "../src/db/open-database.js";
import { cachingStatements } from "../src/db/statement-cache.js";
import { WalCheckpointer } from "../src/db/wal-checkpointer.js";

const MB = 1024 * 1024;

describe("SQLite write path", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it("checkpoints the write-ahead log beside the writer, so the log is reused instead of growing", async () => {
    const store = await openDatabase(parseHubConfig({ dataDir: dir.path }));
    const db = store.db;
    await sql`CREATE TABLE scratch (n INTEGER PRIMARY KEY, body BLOB NOT NULL)`.execute(db);
    const body = Buffer.alloc(1024, 7);
    let n = 0;
    // 40 MiB in 1 MiB transactions with the event loop free in between, as the ingest commits
    for (let batch = 0; batch < 40; batch++) {
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < 1024; i++) await sql`INSERT INTO scratch (n, body) VALUES (${n++}, ${body})`.execute(trx);
      });
      await new Promise((r) => setTimeout(r, 60));
    }
    const wal = statSync(join(dir.path, "kensa.db-wal")).size;
    const state = { ...store.walCheckpoints };
    await store.close();

    expect(state.checkpoints).toBeGreaterThan(10);
    expect(state.errors).toBe(0);
    // SQLite's own threshold on this connection is 64 MiB: a log far below that was reused
    expect(wal).toBeLessThan(12 * MB);
    const check = new SqliteDriver(join(dir.path, "kensa.db"), { readonly: true });
    expect(check.prepare("SELECT COUNT(*) AS c FROM scratch").get()).toEqual({ c: 40 * 1024 });
    check.close();
  });

  it("counts and reports a checkpointer that cannot open its database, and still closes", async () => {
    const errors: string[] = [];
    const c = new WalCheckpointer({ path: join(dir.path, "missing.db"), onError: (m) => errors.push(m) });
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(c.state.errors).toBe(1);
    expect(errors[0]).toMatch(/missing\.db|unable to open|does not exist/i);
    await c.close();
  });

  it("has no checkpointer for an in-memory database", async () => {
    const store = await openDatabase(
      parseHubConfig({ dataDir: dir.path, database: { type: "sqlite", path: ":memory:" } }),
    );
    expect(store.walCheckpoints).toBeNull();
    await store.close();
  });

  it("keeps prepared statements by SQL text, least recently used out first", () => {
    const raw = new SqliteDriver(":memory:");
    const conn = cachingStatements(raw, 2);
    const a = conn.prepare("SELECT 1 AS x");
    expect(conn.prepare("SELECT 1 AS x")).toBe(a);
    const b = conn.prepare("SELECT 2 AS x");
    // a was used after b was not: touching a keeps it, the third statement pushes b out
    expect(conn.prepare("SELECT 1 AS x")).toBe(a);
    conn.prepare("SELECT 3 AS x");
    expect(conn.prepare("SELECT 1 AS x")).toBe(a);
    expect(conn.prepare("SELECT 2 AS x")).not.toBe(b);
    conn.close();
    expect(raw.open).toBe(false);
  });
});
