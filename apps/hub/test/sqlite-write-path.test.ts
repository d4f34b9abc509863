import { spawn } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type TempDir, tempDir } from "@kensa/testkit";
import SqliteDriver from "better-sqlite3";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { openDatabase } from "../src/db/open-database.js";
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
    // SQLite's own threshold on this connection is 64 MiB: a log well below the 40 MiB written
    // was reused (on a loaded machine a checkpoint can trail a few transactions: 14 MiB seen)
    expect(wal).toBeLessThan(24 * MB);
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
});

describe("the SQLite connection in its worker thread (KENSA_SQLITE_WORKER=1)", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
    process.env.KENSA_SQLITE_WORKER = "1";
  });
  afterEach(async () => {
    delete process.env.KENSA_SQLITE_WORKER;
    await dir.remove();
  });

  it("keeps the hub's thread free while a long statement runs", async () => {
    const store = await openDatabase(parseHubConfig({ dataDir: dir.path }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    // a statement that keeps SQLite busy for a few hundred ms
    const { rows } = await sql<{ n: number }>`
      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)
      SELECT count(*) AS n FROM c`.execute(store.db);
    const took = Date.now() - started;
    clearInterval(timer);
    expect(rows[0]?.n).toBe(3000000);
    expect(took).toBeGreaterThan(100);
    // on the hub's thread (better-sqlite3 is synchronous) no tick would have run meanwhile
    expect(ticks).toBeGreaterThan(took / 10 / 4);
    await store.close();
  });

  it("gives SQLite's error code, keeps blobs as Buffers and runs transactions one at a time", async () => {
    const store = await openDatabase(parseHubConfig({ dataDir: dir.path }));
    const db = store.db;
    await sql`CREATE TABLE t (k TEXT PRIMARY KEY, body BLOB)`.execute(db);
    await sql`INSERT INTO t VALUES ('a', ${Buffer.from([1, 2, 3])})`.execute(db);
    const err = await sql`INSERT INTO t VALUES ('a', NULL)`.execute(db).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe("SQLITE_CONSTRAINT_PRIMARYKEY");
    expect((err as Error).message).toMatch(/UNIQUE constraint failed: t\.k/);
    const { rows } = await sql<{ body: Buffer }>`SELECT body FROM t WHERE k = 'a'`.execute(db);
    expect(Buffer.isBuffer(rows[0]?.body)).toBe(true);
    expect([...(rows[0]?.body ?? [])]).toEqual([1, 2, 3]);

    // two transactions started together: the second sees the first's whole effect or none of it
    const seen: number[] = [];
    await Promise.all([
      db.transaction().execute(async (trx) => {
        for (let i = 0; i < 20; i++) await sql`INSERT INTO t VALUES (${`x${i}`}, NULL)`.execute(trx);
      }),
      db.transaction().execute(async (trx) => {
        const r = await sql<{ n: number }>`SELECT count(*) AS n FROM t WHERE k LIKE 'x%'`.execute(trx);
        seen.push(r.rows[0]!.n);
      }),
    ]);
    expect([0, 20]).toContain(seen[0]);
    // a failed transaction leaves nothing behind and the connection usable
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`INSERT INTO t VALUES ('y', NULL)`.execute(trx);
        await sql`INSERT INTO t VALUES ('y', NULL)`.execute(trx);
      }),
    ).rejects.toThrow(/UNIQUE/);
    const y = await sql<{ n: number }>`SELECT count(*) AS n FROM t WHERE k = 'y'`.execute(db);
    expect(y.rows[0]?.n).toBe(0);
    await store.close();
    await expect(sql`SELECT 1`.execute(db)).rejects.toThrow();
  });

  it("does not hold the process once its work is done, even left open", async () => {
    // a start that fails half-way leaves the store open: the process must still end
    const script = join(dir.path, "left-open.mts");
    const src = (f: string) => JSON.stringify(new URL(`../src/${f}`, import.meta.url).href);
    writeFileSync(
      script,
      `import { parseHubConfig } from ${src("config.ts")};
       import { openDatabase } from ${src("db/open-database.ts")};
       const store = await openDatabase(parseHubConfig({ dataDir: ${JSON.stringify(dir.path)} }));
       const rows = await store.db.selectFrom("projects").selectAll().execute();
       console.log("rows", rows.length);
       const other = await openDatabase(parseHubConfig({ dataDir: ${JSON.stringify(join(dir.path, "other"))} }));
       await other.close();
       console.log("closed");`,
    );
    const started = Date.now();
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        env: { ...process.env, KENSA_SQLITE_WORKER: "1" },
        cwd: fileURLToPath(new URL("..", import.meta.url)),
      });
      let stdout = "";
      child.stdout.on("data", (d) => (stdout += d));
      const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.on("exit", (code) => {
        clearTimeout(kill);
        resolve({ code, stdout });
      });
    });
    expect(out.stdout).toContain("rows 0");
    // closing an idle store is waited for: the process ends after it, not before
    expect(out.stdout).toContain("closed");
    expect(out.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);

  it("says why a database cannot be opened", async () => {
    // a directory where the database file should be
    const path = join(dir.path, "not-a-file");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(path);
    await expect(
      openDatabase(parseHubConfig({ dataDir: dir.path, database: { type: "sqlite", path: `file:${path}` } })),
    ).rejects.toThrow(/cannot open the SQLite database/);
  });
});
