import { Worker } from "node:worker_threads";
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";

/** An error SQLite raised in the worker, with its code (SQLITE_FULL, SQLITE_CONSTRAINT_UNIQUE …). */
export class SqliteWorkerError extends Error {
  readonly code: string | undefined;
  constructor(said: { message: string; code?: string; name?: string }) {
    super(said.message);
    this.name = said.name && said.name !== "Error" ? said.name : "SqliteError";
    this.code = said.code;
  }
}

type Reply =
  | { type: "ready" }
  | { type: "failed"; error: { message: string; code?: string; name?: string } }
  | { type: "closed" }
  | {
      type: "result";
      id: number;
      rows?: Record<string, unknown>[];
      changes?: number;
      lastInsertRowid?: number | bigint;
      error?: { message: string; code?: string; name?: string };
    };

interface Pending {
  resolve: (r: QueryResult<unknown>) => void;
  reject: (e: Error) => void;
}

/**
 * The hub's one SQLite connection, in a worker thread (sqlite-store-worker.mjs). better-sqlite3
 * runs a statement on the calling thread until it is done; on the hub's thread a 500-event
 * commit over 200 devices held the embedded broker and every HTTP request for tens of
 * milliseconds, and publish → stored p99 grew past 600 ms at half the maximum rate. Here the hub
 * sends each statement to the worker and keeps working until the answer comes. Statements still
 * run one at a time, in the order sent, as Kysely's SQLite driver does (one connection, held for
 * a whole transaction).
 */
export class SqliteWorkerConnection implements DatabaseConnection {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #gone: Error | null = null;
  #closed: Promise<void> | null = null;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on("message", (m: Reply) => {
      if (m.type !== "result") return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      if (m.error) p.reject(new SqliteWorkerError(m.error));
      else if (m.rows) p.resolve({ rows: m.rows.map(withBuffers) });
      else
        p.resolve({
          rows: [],
          numAffectedRows: BigInt(m.changes ?? 0),
          insertId: m.lastInsertRowid === undefined ? undefined : BigInt(m.lastInsertRowid),
        });
    });
    const fail = (err: Error) => {
      this.#gone = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on("error", (err) => fail(new Error(`the SQLite worker failed: ${err.message}`)));
    worker.on("exit", (code) => fail(new Error(`the SQLite worker exited (${code})`)));
  }

  /** Opens `path` in a new worker and applies `pragmas` there; rejects with SQLite's reason. */
  static open(path: string, pragmas: readonly string[], cacheSize = 500): Promise<SqliteWorkerConnection> {
    const worker = new Worker(new URL("./sqlite-store-worker.mjs", import.meta.url), {
      workerData: { path, pragmas, cacheSize },
      // the worker needs no loader: keep the parent's (a test runner's, tsx's) out of it
      execArgv: [],
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.type === "ready") {
          worker.off("message", onMessage);
          worker.off("error", onError);
          worker.unref();
          resolve(new SqliteWorkerConnection(worker));
        } else if (m.type === "failed") {
          worker.off("error", onError);
          reject(new SqliteWorkerError(m.error));
        }
      };
      const onError = (err: Error) => reject(err);
      worker.on("message", onMessage);
      worker.once("error", onError);
    });
  }

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#next++;
    // the worker keeps the process alive only while it has work: an idle connection left open
    // (a start that failed half-way) must not hold the process, a query in flight must
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as Pending["resolve"], reject });
      this.#worker.postMessage({ type: "query", id, sql: compiled.sql, params: compiled.parameters });
    });
  }

  // biome-ignore lint/correctness/useYield: the hub never streams from SQLite; said plainly if it does
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming queries are not supported on the hub's SQLite connection");
  }

  /** Closes the database in the worker (finishing what it was sent first) and ends the worker. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = this.#gone
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.#worker.once("exit", () => resolve());
          // waiting for the worker to end is work: the process must not end first
          this.#worker.ref();
          this.#worker.postMessage({ type: "close" });
        });
    return this.#closed;
  }
}

/** blob columns arrive as Uint8Array (a Buffer does not survive the thread hop) */
function withBuffers(row: Record<string, unknown>): Record<string, unknown> {
  for (const k in row) {
    const v = row[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row;
}

/** One connection, held by one caller at a time (a whole transaction), like Kysely's SQLite driver. */
class SqliteWorkerDriver implements Driver {
  readonly #conn: SqliteWorkerConnection;
  #held: Promise<void> = Promise.resolve();
  #release: (() => void) | null = null;

  constructor(conn: SqliteWorkerConnection) {
    this.#conn = conn;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const before = this.#held;
    let release!: () => void;
    this.#held = new Promise<void>((r) => {
      release = r;
    });
    await before;
    this.#release = release;
    return this.#conn;
  }

  async beginTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("begin"));
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("rollback"));
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = null;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.#conn.close();
  }
}

/** Kysely's SQLite dialect over `SqliteWorkerConnection`. */
export class SqliteWorkerDialect implements Dialect {
  readonly #conn: SqliteWorkerConnection;

  constructor(conn: SqliteWorkerConnection) {
    this.#conn = conn;
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createDriver(): Driver {
    return new SqliteWorkerDriver(this.#conn);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
}
