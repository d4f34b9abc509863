import { Worker } from "node:worker_threads";

export interface WalCheckpointerOptions {
  /** the database file (its log is `<path>-wal`) */
  path: string;
  /** ms between checkpoints (each copies what the log holds beyond the last one) */
  intervalMs?: number;
  onError?: (message: string) => void;
}

/** What the last checkpoint saw, for /metrics and tests. */
export interface WalCheckpointState {
  checkpoints: number;
  /** frames in the log, and how many of them are in the database file, at the last checkpoint */
  logFrames: number;
  checkpointedFrames: number;
  errors: number;
}

/**
 * Checkpoints the hub's SQLite write-ahead log from a worker thread. SQLite otherwise does it on
 * the connection that commits, when the log passes 1,000 pages: the ingest's event-loop thread
 * then copies pages into the database file and waits for its fsync, a third of the cost of
 * storing an event at 100,000 events and more as the table grows. Here the main connection only
 * appends; a checkpoint runs beside it (readers and the writer go on, SQLite's PASSIVE mode) and
 * the log is reused once it is all copied. The main connection keeps a high automatic threshold
 * as a fallback, so a log the worker cannot keep up with still stops growing.
 */
export class WalCheckpointer {
  readonly state: WalCheckpointState = { checkpoints: 0, logFrames: 0, checkpointedFrames: 0, errors: 0 };
  #worker: Worker;
  #exited: Promise<void>;
  #closed = false;

  constructor(opts: WalCheckpointerOptions) {
    this.#worker = new Worker(new URL("./wal-checkpoint-worker.mjs", import.meta.url), {
      workerData: { path: opts.path, intervalMs: opts.intervalMs ?? 100 },
      // the worker needs no loader: keep the parent's (a test runner's, tsx's) out of it
      execArgv: [],
    });
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    this.#worker.on("message", (m: { type: string; log?: number; checkpointed?: number; message?: string }) => {
      if (m.type === "checkpoint") {
        this.state.checkpoints++;
        this.state.logFrames = m.log ?? 0;
        this.state.checkpointedFrames = m.checkpointed ?? 0;
      } else if (m.type === "error") {
        this.state.errors++;
        opts.onError?.(m.message ?? "checkpoint failed");
      }
    });
    this.#worker.on("error", (err) => {
      this.state.errors++;
      opts.onError?.(err.message);
    });
    // after the listeners: a 'message' listener added later would hold the process again
    this.#worker.unref();
  }

  /** Stops the worker and closes its connection (before the main connection closes). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    // a worker that could not open the database has exited already
    worker.postMessage({ type: "close" });
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await this.#exited;
    clearTimeout(timer);
  }
}
