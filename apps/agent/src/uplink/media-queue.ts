import { existsSync, statSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type Database from "better-sqlite3";
import type { AgentDatabase } from "../storage/agent-db.js";
import { fsyncDir } from "../storage/fs-atomic.js";
import type { UploadOutcome, UploadQueue, UploadRow } from "./upload-queue.js";

export interface MediaRow extends UploadRow {
  eventId: string;
}

export interface MediaQueueOptions {
  /** keep uploaded frames on disk as a ring buffer (the disk quotas evict the oldest); default true */
  keepUploaded?: boolean;
}

/**
 * The frames of finding events, which the outbox inserts beside their event. A frame goes up
 * once its event left the outbox; after a 2xx it stays on disk (`uploaded_at` set) as the local
 * ring buffer of incident frames, until the quota keeper evicts it, oldest first.
 */
export class MediaQueue implements UploadQueue<MediaRow> {
  readonly #db: AgentDatabase;
  readonly #dir: string;
  readonly #keepUploaded: boolean;
  readonly #due: Database.Statement<[number, number], MediaRow>;
  readonly #nextAt: Database.Statement<[], { at: number | null }>;
  readonly #delete: Database.Statement<[string]>;
  readonly #uploaded: Database.Statement<[number, string]>;
  readonly #defer: Database.Statement<[number, number, string]>;
  readonly #retryNow: Database.Statement<[]>;
  readonly #count: Database.Statement<[], { n: number }>;

  constructor(db: AgentDatabase, mediaDir: string, opts: MediaQueueOptions = {}) {
    this.#db = db;
    this.#dir = mediaDir;
    this.#keepUploaded = opts.keepUploaded ?? true;
    // media goes up only once its event left the outbox (the broker has it), so the hub
    // normally knows the event id before the bytes arrive
    this.#due = db.prepare(
      `SELECT event_id AS key, event_id AS eventId, file, attempts FROM media
       WHERE uploaded_at IS NULL AND next_at <= ?
         AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = media.event_id)
       ORDER BY created_at LIMIT ?`,
    );
    this.#nextAt = db.prepare(
      `SELECT MIN(next_at) AS at FROM media WHERE uploaded_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = media.event_id)`,
    );
    this.#delete = db.prepare("DELETE FROM media WHERE event_id = ?");
    this.#uploaded = db.prepare("UPDATE media SET uploaded_at = ? WHERE event_id = ?");
    this.#defer = db.prepare("UPDATE media SET attempts = ?, next_at = ? WHERE event_id = ?");
    this.#retryNow = db.prepare("UPDATE media SET next_at = 0 WHERE uploaded_at IS NULL AND next_at > 0");
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM media WHERE uploaded_at IS NULL");
  }

  get dir(): string {
    return this.#dir;
  }

  due(now: number, limit: number): MediaRow[] {
    return this.#due.all(now, limit);
  }

  nextDueAt(): number | undefined {
    return this.#nextAt.get()?.at ?? undefined;
  }

  /** Uploaded: kept as the ring buffer (or deleted); refused or missing: row and file go. */
  async done(row: MediaRow, outcome: UploadOutcome): Promise<void> {
    if (outcome === "uploaded" && this.#keepUploaded) {
      this.#uploaded.run(Date.now(), row.eventId);
      return;
    }
    this.#delete.run(row.eventId);
    await rm(join(this.#dir, row.file), { force: true });
  }

  defer(row: MediaRow, attempts: number, nextAt: number): void {
    this.#defer.run(attempts, nextAt, row.eventId);
  }

  retryNow(): void {
    this.#retryNow.run();
  }

  /** frames waiting for upload (uploaded ones kept on disk are not counted) */
  depth(): number {
    return this.#count.get()?.n ?? 0;
  }

  /**
   * Startup recovery: removes half-written `*.tmp` files, files no row points to (a crash
   * between the file rename and the event transaction) and rows whose file is gone; measures
   * files of rows an older agent stored without their size.
   */
  async reap(): Promise<{ files: number; rows: number }> {
    await mkdir(this.#dir, { recursive: true });
    const rows = this.#db
      .prepare<[], { event_id: string; file: string; bytes: number }>("SELECT event_id, file, bytes FROM media")
      .all();
    const known = new Set(rows.map((r) => r.file));
    let files = 0;
    for (const name of await readdir(this.#dir)) {
      if (name.endsWith(".tmp") || !known.has(name)) {
        await rm(join(this.#dir, name), { force: true, recursive: true });
        files++;
      }
    }
    if (files > 0) await fsyncDir(this.#dir);
    let gone = 0;
    const setBytes = this.#db.prepare<[number, string]>("UPDATE media SET bytes = ? WHERE event_id = ?");
    for (const r of rows) {
      const path = join(this.#dir, r.file);
      if (!existsSync(path)) {
        this.#delete.run(r.event_id);
        gone++;
      } else if (r.bytes === 0) {
        setBytes.run(statSync(path).size, r.event_id);
      }
    }
    return { files, rows: gone };
  }
}
