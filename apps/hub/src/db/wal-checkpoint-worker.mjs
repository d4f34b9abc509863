// The hub's SQLite checkpointer (see wal-checkpointer.ts): a worker thread with its own
// connection that copies the write-ahead log back into the database file, so the ingest's
// thread only appends to the log. Plain JavaScript: a worker started from TypeScript run by a
// test runner or a loader does not inherit that loader.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { path, intervalMs } = workerData;
let db;
try {
  db = new Database(path, { fileMustExist: true });
} catch (err) {
  // said as a message: an error of better-sqlite3's own class crosses to the hub without its text
  parentPort.postMessage({
    type: "error",
    message: `cannot open ${path}: ${err instanceof Error ? err.message : err}`,
  });
  process.exit(1);
}
// never wait on the writer: a busy checkpoint is retried on the next tick
db.pragma("busy_timeout = 0");
// a checkpoint makes the database file durable (fsync) before the log may be reused
db.pragma("synchronous = NORMAL");

let closed = false;
const tick = () => {
  if (closed) return;
  try {
    const [r] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ type: "checkpoint", busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  }
  if (!closed) timer = setTimeout(tick, intervalMs);
};
let timer = setTimeout(tick, intervalMs);

parentPort.on("message", (m) => {
  if (m?.type !== "close") return;
  closed = true;
  clearTimeout(timer);
  try {
    db.close();
  } finally {
    parentPort.postMessage({ type: "closed" });
    parentPort.close();
  }
});
