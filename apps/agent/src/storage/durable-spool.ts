import { EventEmitter } from "node:events";
import { existsSync, rmSync, statSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { backoffMs } from "../retry.js";
import type { AgentDatabase } from "./agent-db.js";
import { fsyncDir, fsyncFile, writeFileAtomic } from "./fs-atomic.js";
import type {
  EvictableSpool,
  EvictionScope,
  MediaBudget,
  MediaSpoolName,
  Reservation,
  SpoolFile,
} from "./media-budget.js";

export type { EvictableSpool, EvictionScope, SpoolFile };

import type { RetryPolicy, UploadOutcome, UploadQueue, UploadRow } from "./upload-queue.js";

export type SqlValue = string | number | null;

/**
 * Which rows a spool keeps on disk once they are done (the hub has them), and how it marks
 * them. Without it every done row leaves, file and all.
 */
export interface KeptRows {
  /** SQL condition of the rows not done yet, e.g. `uploaded_at IS NULL` */
  pending: string;
  /** SQL assignment that marks a row done, with one `?` for `mark(outcome)` */
  settle: string;
  mark(outcome: UploadOutcome): SqlValue;
  /** whether a row done with this outcome stays on disk; the others go */
  keeps(outcome: UploadOutcome): boolean;
}

/**
 * How one spool maps onto its table. Every spool table has the key column plus `file`,
 * `bytes`, `attempts`, `next_at` and `created_at`; the item's own columns come on top.
 */
export interface SpoolSpec<I, R extends UploadRow> {
  table: string;
  /** the key column: event id (media), capture id, clip file name */
  key: string;
  /** the item's columns, which `values` fills in this order */
  columns: readonly string[];
  values(item: I): readonly SqlValue[];
  /** SQL select list of the item fields a due row carries, e.g. `event_id AS eventId` */
  select?: string;
  /** turns the selected fields into a row (JSON columns); as selected by default */
  decode?(fields: UploadRow & Record<string, unknown>): R;
  /** the same key put twice: "ignore" keeps the first (idempotent ids), "replace" the last; default: an error */
  onConflict?: "ignore" | "replace";
  /** SQL a row must also meet to be offered (media, clips: their event left the outbox) */
  readyWhen?: string;
  kept?: KeptRows;
}

export interface DurableSpoolEvents {
  /** an item was stored durably (file and row) */
  queued: [key: string];
}

/**
 * A durable queue of files on disk, each with a row in the agent's SQLite database: incident
 * frames, captures and clips are all one of these. A put writes the file under a temp name,
 * fsyncs it, renames it into place and syncs the directory, and only then commits the row, so
 * a crash leaves at worst a file without a row, never a row without its file. Rows are offered
 * oldest first; a failed try defers its row with backoff (attempts and next try are persisted);
 * done rows leave (row first, then file) or stay on disk as done until the quota evicts them.
 * `reap()` at start removes what a crash left: temp files, files without a row, rows without a
 * file.
 */
export class DurableSpool<I, R extends UploadRow = UploadRow>
  extends EventEmitter<DurableSpoolEvents>
  implements UploadQueue<R>, EvictableSpool
{
  readonly #dir: string;
  readonly #spec: SpoolSpec<I, R>;
  readonly #sql;
  #budget: { budget: MediaBudget; as: MediaSpoolName } | undefined;
  /** room reserved for files staged but not recorded yet, by file name */
  readonly #held = new Map<string, Reservation>();

  constructor(db: AgentDatabase, dir: string, spec: SpoolSpec<I, R>) {
    super();
    this.#dir = dir;
    this.#spec = spec;
    const { table: t, key: k } = spec;
    const pending = spec.kept?.pending ?? "1";
    const ready = spec.readyWhen ? `${pending} AND ${spec.readyWhen}` : pending;
    const scope: Record<EvictionScope, string> = { kept: `NOT (${pending})`, pending, all: "1" };
    const cols = [k, "file", "bytes", "created_at", ...spec.columns];
    const conflict = spec.onConflict ? ` OR ${spec.onConflict.toUpperCase()}` : "";
    const select = spec.select ? `, ${spec.select}` : "";
    // prepared once: the uploader asks on every wake, the pipeline inserts per finding
    this.#sql = {
      insert: db.prepare<SqlValue[]>(
        `INSERT${conflict} INTO ${t} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
      ),
      due: db.prepare<[number, number], UploadRow & Record<string, unknown>>(
        `SELECT ${k} AS key, file, attempts${select} FROM ${t}
         WHERE ${ready} AND next_at <= ? ORDER BY created_at, rowid LIMIT ?`,
      ),
      nextAt: db.prepare<[], { at: number | null }>(`SELECT MIN(next_at) AS at FROM ${t} WHERE ${ready}`),
      delete: db.prepare<[string], { file: string }>(`DELETE FROM ${t} WHERE ${k} = ? RETURNING file`),
      settle: spec.kept ? db.prepare<[SqlValue, string]>(`UPDATE ${t} SET ${spec.kept.settle} WHERE ${k} = ?`) : null,
      defer: db.prepare<[number, number, string]>(`UPDATE ${t} SET attempts = ?, next_at = ? WHERE ${k} = ?`),
      retryNow: db.prepare(`UPDATE ${t} SET next_at = 0 WHERE ${pending} AND next_at > 0`),
      depth: db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${t} WHERE ${pending}`),
      bytes: db.prepare<[], { n: number | null }>(`SELECT SUM(bytes) AS n FROM ${t}`),
      // whole blocks: the CAST truncates (a bound number may arrive as a REAL, dividing exactly)
      allocated: db.prepare<[number, number, number], { n: number | null }>(
        `SELECT SUM(CAST((bytes + ? - 1) / ? AS INTEGER) * ?) AS n FROM ${t}`,
      ),
      oldest: Object.fromEntries(
        Object.entries(scope).map(([s, where]) => [
          s,
          db.prepare<[number], SpoolFile>(
            `SELECT ${k} AS key, file, bytes FROM ${t} WHERE ${where} ORDER BY created_at, rowid LIMIT ?`,
          ),
        ]),
      ) as Record<EvictionScope, Database.Statement<[number], SpoolFile>>,
      rows: db.prepare<[], SpoolFile>(`SELECT ${k} AS key, file, bytes FROM ${t}`),
      setBytes: db.prepare<[number, string]>(`UPDATE ${t} SET bytes = ? WHERE ${k} = ?`),
    };
  }

  get dir(): string {
    return this.#dir;
  }

  /**
   * Every file this spool writes from now on first reserves its room in `budget` (the media
   * quota), evicting older media if it must; a file that cannot fit is refused.
   */
  useBudget(budget: MediaBudget, as: MediaSpoolName): void {
    this.#budget = { budget, as };
  }

  /** The path of a spool file. */
  path(file: string): string {
    return join(this.#dir, file);
  }

  /** Stores `data` as `file` and then its row under `key`. */
  async put(key: string, file: string, data: Uint8Array, item: I): Promise<void> {
    await this.stage(file, data);
    this.record(key, file, data.byteLength, item);
    this.emit("queued", key);
  }

  /**
   * Stores a file that `write` produces at the temp path it is given (an encoder writing its
   * own output), then its row; returns the file's size in bytes. A write that fails leaves
   * neither file nor row.
   */
  async putWith(key: string, file: string, item: I, write: (tmpPath: string) => Promise<void>): Promise<number> {
    const path = this.path(file);
    // encoded beside the spool, not in it: the size is known only once it is written, and the
    // media store must never hold more than its quota, even for a moment
    const staging = this.#stagingDir();
    await mkdir(staging, { recursive: true });
    const tmp = join(staging, `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    let bytes: number;
    try {
      await write(tmp);
      await fsyncFile(tmp);
      bytes = (await stat(tmp)).size;
      this.#reserve(file, bytes);
      await mkdir(this.#dir, { recursive: true });
      await rename(tmp, path);
    } catch (err) {
      this.#unreserve(file);
      await rm(tmp, { force: true });
      throw err;
    }
    await fsyncDir(this.#dir);
    this.record(key, file, bytes, item);
    this.emit("queued", key);
    return bytes;
  }

  /**
   * The file half of a put: durable under its final name, for a caller that commits the row
   * itself (with `record`, or `unstage` when it gives up). Throws KENSA_ERR_MEDIA_QUOTA_FULL,
   * writing nothing, when the file cannot fit in the media quota.
   */
  async stage(file: string, data: Uint8Array): Promise<void> {
    this.#reserve(file, data.byteLength);
    try {
      await writeFileAtomic(this.path(file), data);
    } catch (err) {
      this.#unreserve(file);
      throw err;
    }
  }

  /** Gives up a staged file whose row will not be recorded: the file goes and its room is freed. */
  unstage(file: string): void {
    this.unlink(file);
    this.#unreserve(file);
  }

  /**
   * The row half of a put, for a file that is already durable in the spool's dir. Synchronous,
   * so it can join the caller's transaction (the outbox stores an event and its frame's row in
   * one).
   */
  record(key: string, file: string, bytes: number, item: I): void {
    this.#sql.insert.run(key, file, bytes, Date.now(), ...this.#spec.values(item));
    // the row counts the file now
    this.#unreserve(file);
  }

  due(now: number, limit: number): R[] {
    const rows = this.#sql.due.all(now, limit);
    const decode = this.#spec.decode;
    return decode ? rows.map((r) => decode(r)) : (rows as unknown as R[]);
  }

  nextDueAt(): number | undefined {
    return this.#sql.nextAt.get()?.at ?? undefined;
  }

  /** Done for good: the row is marked done and its file kept, or both go (row first). */
  async done(row: R, outcome: UploadOutcome): Promise<void> {
    const kept = this.#spec.kept;
    if (kept?.keeps(outcome)) this.#sql.settle?.run(kept.mark(outcome), row.key);
    else this.#remove(row.key, row.file);
  }

  /** Defers a row to `nextAt` (ms epoch) after `attempts` tries. */
  defer(row: R, attempts: number, nextAt: number): void {
    this.#sql.defer.run(attempts, nextAt, row.key);
  }

  retry(row: R, policy: RetryPolicy): number {
    const attempts = row.attempts + 1;
    const delay = backoffMs(attempts, policy.baseMs, policy.maxMs);
    this.defer(row, attempts, Date.now() + delay);
    return delay;
  }

  retryNow(): void {
    this.#sql.retryNow.run();
  }

  /** rows not done yet (kept ones are not counted) */
  depth(): number {
    return this.#sql.depth.get()?.n ?? 0;
  }

  bytes(): number {
    return this.#sql.bytes.get()?.n ?? 0;
  }

  allocatedBytes(blockBytes: number): number {
    return this.#sql.allocated.get(blockBytes, blockBytes, blockBytes)?.n ?? 0;
  }

  oldest(scope: EvictionScope, limit: number): SpoolFile[] {
    return this.#sql.oldest[scope].all(limit);
  }

  evict(file: SpoolFile): void {
    this.#remove(file.key, file.file);
  }

  /** Deletes a row and returns its file, which the caller unlinks (after its transaction). */
  deleteRow(key: string): string | undefined {
    return this.#sql.delete.get(key)?.file;
  }

  unlink(file: string): void {
    rmSync(this.path(file), { force: true });
  }

  /**
   * Startup recovery: removes temp files and files no row names (a crash between the rename and
   * the row's commit), deletes rows whose file is gone, and measures files of rows an older
   * agent stored without their size.
   */
  async reap(): Promise<{ files: number; rows: number }> {
    await mkdir(this.#dir, { recursive: true });
    await rm(this.#stagingDir(), { recursive: true, force: true });
    const rows = this.#sql.rows.all();
    const known = new Set(rows.map((r) => r.file));
    let files = 0;
    for (const name of await readdir(this.#dir)) {
      if (name.endsWith(".tmp") || !known.has(name)) {
        await rm(this.path(name), { force: true, recursive: true });
        files++;
      }
    }
    if (files > 0) await fsyncDir(this.#dir);
    let gone = 0;
    for (const r of rows) {
      const path = this.path(r.file);
      if (!existsSync(path)) {
        this.#sql.delete.run(r.key);
        gone++;
      } else if (r.bytes === 0) {
        this.#sql.setBytes.run(statSync(path).size, r.key);
      }
    }
    return { files, rows: gone };
  }

  #stagingDir(): string {
    return `${this.#dir}.staging`;
  }

  #reserve(file: string, bytes: number): void {
    if (!this.#budget) return;
    this.#unreserve(file);
    this.#held.set(file, this.#budget.budget.reserve(this.#budget.as, bytes));
  }

  #unreserve(file: string): void {
    this.#held.get(file)?.release();
    this.#held.delete(file);
  }

  /**
   * Row first, then the file, both before anything else runs: whoever sees the row gone finds
   * the file gone too, and a crash in between leaves an orphan file that `reap()` removes.
   */
  #remove(key: string, file: string): void {
    this.#sql.delete.run(key);
    this.unlink(file);
  }
}
