// The hub's SQLite connection (see sqlite-worker-dialect.ts): a worker thread that owns the one
// writing connection and runs every statement the hub sends it, so the hub's thread keeps
// serving MQTT and HTTP while SQLite works. Plain JavaScript: a worker started from TypeScript
// run by a test runner or a loader does not inherit that loader.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { path, pragmas, cacheSize } = workerData;

/** an error as the hub sees it: message and SQLite's code (an Error's own fields do not cross) */
const said = (err) => ({
  message: err instanceof Error ? err.message : String(err),
  code: typeof err?.code === "string" ? err.code : undefined,
  name: err instanceof Error ? err.name : "Error",
});

let db;
try {
  db = new Database(path);
  for (const p of pragmas) db.pragma(p);
  parentPort.postMessage({ type: "ready" });
} catch (err) {
  parentPort.postMessage({ type: "failed", error: said(err) });
  process.exit(1);
}

// Prepared statements kept by SQL text, least recently used first out: preparing the ingest's
// 250-row inserts again each time cost 5 % of the hub's time at 10,000 events/s. Statements run
// one at a time here, so none is used twice at once; SQLite prepares one again by itself after a
// schema change.
const cache = new Map();
const prepare = (sql) => {
  let stmt = cache.get(sql);
  if (stmt) cache.delete(sql);
  else {
    stmt = db.prepare(sql);
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value);
  }
  cache.set(sql, stmt);
  return stmt;
};

// blobs cross threads as plain Uint8Array; better-sqlite3 binds only Buffers as BLOBs
const bindable = (v) =>
  v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;

parentPort.on("message", (m) => {
  if (m.type === "close") {
    cache.clear();
    try {
      db.close();
    } finally {
      parentPort.postMessage({ type: "closed" });
      parentPort.close();
    }
    return;
  }
  const { id, sql, params } = m;
  try {
    const stmt = prepare(sql);
    const bound = params.map(bindable);
    if (stmt.reader) {
      parentPort.postMessage({ type: "result", id, rows: stmt.all(bound) });
    } else {
      const { changes, lastInsertRowid } = stmt.run(bound);
      parentPort.postMessage({ type: "result", id, changes, lastInsertRowid });
    }
  } catch (err) {
    parentPort.postMessage({ type: "result", id, error: said(err) });
  }
});
