import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { KensaError } from "@kensa/contracts";
import SqliteDriver from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import pg from "pg";
import type { HubConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { tightenModeSync } from "../secrets/file-modes.js";
import { migrationProvider } from "./migrations/index.js";
import { KensaPostgresDialect } from "./pg-search-path-introspector.js";
import type { HubDatabase } from "./schema.js";
import { SqliteWorkerConnection, SqliteWorkerDialect } from "./sqlite-worker-dialect.js";
import { cachingStatements } from "./statement-cache.js";
import { WalCheckpointer, type WalCheckpointState } from "./wal-checkpointer.js";

export interface MetadataStore {
  db: Kysely<HubDatabase>;
  dialect: "sqlite" | "postgres";
  /** SQLite on disk: the write-ahead log's checkpoints, done beside the writer (wal-checkpointer.ts) */
  walCheckpoints: WalCheckpointState | null;
  close(): Promise<void>;
}

/** Opens the configured metadata store and brings its schema to the latest migration. */
export async function openDatabase(config: HubConfig, log: Pick<Logger, "warn"> = quiet): Promise<MetadataStore> {
  const { db, checkpointer } =
    config.database.type === "sqlite"
      ? await openSqlite(config, log)
      : { db: openPostgres(config.database), checkpointer: null };
  const close = async () => {
    await checkpointer?.close();
    await db.destroy();
  };
  const store: MetadataStore = {
    db,
    dialect: config.database.type,
    walCheckpoints: checkpointer?.state ?? null,
    close,
  };
  try {
    await migrate(db, config.database.type === "postgres" ? config.database.schema : undefined);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return store;
}

async function openSqlite(
  config: HubConfig,
  log: Pick<Logger, "warn">,
): Promise<{ db: Kysely<HubDatabase>; checkpointer: WalCheckpointer | null }> {
  const path = (config.database.type === "sqlite" && config.database.path) || join(config.dataDir, "kensa.db");
  const onDisk = path !== ":memory:" && !path.startsWith("file:");
  if (onDisk) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode
    closeSync(openSync(path, "a", 0o600));
    tightenModeSync(path, 0o600, log);
  }
  const pragmas = [
    // WAL: readers never block the ingest writer, and a crash never leaves a half-written page.
    "journal_mode = WAL",
    "synchronous = NORMAL",
    "foreign_keys = ON",
    "busy_timeout = 5000",
    // The default page cache (2 MiB) cannot hold the upper levels of the events table's indexes
    // once it has grown past a few hundred thousand rows: every insert then reads its index pages
    // back from the OS. 64 MiB of cache (and reads through mmap) keep them in memory.
    "cache_size = -65536",
    "mmap_size = 268435456",
    // checkpoints run in a worker of their own (wal-checkpointer.ts); this connection does one
    // itself only when the log passes 64 MiB, as a fallback if that worker falls behind
    ...(onDisk ? ["wal_autocheckpoint = 16384"] : []),
  ];
  // KENSA_SQLITE_WORKER=1: the connection lives in a worker thread (sqlite-worker-dialect.ts),
  // so SQLite's work does not hold up the broker and the HTTP server on the hub's thread. Not
  // the default yet: each await on the database then lasts long enough to expose check-then-act
  // races that a synchronous connection hid (docs/delivery.md, "Speed, and where its limit is").
  let dialect: SqliteWorkerDialect | SqliteDialect;
  if (process.env.KENSA_SQLITE_WORKER === "1") {
    const connection = await SqliteWorkerConnection.open(path, pragmas).catch((err: Error) => {
      throw new KensaError("KENSA_ERR_INTERNAL", `cannot open the SQLite database ${path}: ${err.message}`);
    });
    dialect = new SqliteWorkerDialect(connection);
  } else {
    let database: SqliteDriver.Database;
    try {
      database = new SqliteDriver(path);
      for (const p of pragmas) database.pragma(p);
    } catch (err) {
      throw new KensaError("KENSA_ERR_INTERNAL", `cannot open the SQLite database ${path}: ${(err as Error).message}`);
    }
    dialect = new SqliteDialect({ database: cachingStatements(database) });
  }
  // files left by an older hub (or copied in) keep their mode; the database's secrets do not
  if (onDisk) for (const suffix of ["-wal", "-shm"]) tightenModeSync(path + suffix, 0o600, log);
  let checkpointer: WalCheckpointer | null = null;
  if (onDisk) {
    checkpointer = new WalCheckpointer({
      path,
      onError: (message) => log.warn({ err: message }, "sqlite checkpoint failed; the hub's own connection will do it"),
    });
  }
  return { db: new Kysely<HubDatabase>({ dialect }), checkpointer };
}

const quiet: Pick<Logger, "warn"> = { warn: () => {} };

function openPostgres(cfg: { url: string; schema?: string }): Kysely<HubDatabase> {
  const types = {
    // int8 (counts, bigint columns) arrives as a string by default; our values fit a double.
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({
    connectionString: cfg.url,
    max: 10,
    types,
    // how an operator tells the hub's connections apart in pg_stat_activity
    application_name: `kensa-hub${cfg.schema ? ` ${cfg.schema}` : ""}`.slice(0, 63),
    // Every connection sees only Kensa's schema, so the same unqualified SQL serves both dialects.
    ...(cfg.schema ? { options: `-c search_path=${cfg.schema}` } : {}),
  });
  pool.on("error", () => {
    // an idle client dropped by the server; the pool replaces it on the next query
  });
  // A client checked out and between two statements (inside a transaction) that the server
  // drops (a restart, pg_terminate_backend) emits "error" on itself, not on the pool, and an
  // unheard "error" ends the process. Its next query fails instead, and the pool discards it.
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  return new Kysely<HubDatabase>({ dialect: new KensaPostgresDialect({ pool }) });
}

async function migrate(db: Kysely<HubDatabase>, schema: string | undefined): Promise<void> {
  if (schema) await db.schema.createSchema(schema).ifNotExists().execute();
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new KensaError("KENSA_ERR_INTERNAL", `database migration ${failed} failed: ${(error as Error).message}`);
  }
}
