import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type Database from "better-sqlite3";
import type { AgentDatabase } from "./agent-db.js";
import { fsyncDir } from "./fs-atomic.js";

export interface MediaRow {
  eventId: string;
  file: string;
  attempts: number;
}

/** The media rows the outbox inserts beside finding events, read by the uploader. */
export class MediaQueue {
  readonly #db: AgentDatabase;
  readonly #dir: string;
  readonly #due: Database.Statement<[number, number], MediaRow>;
  readonly #nextAt: Database.Statement<[], { at: number | null }>;
  readonly #delete: Database.Statement<[string]>;
  readonly #defer: Database.Statement<[number, number, string]>;
  readonly #count: Database.Statement<[], { n: number }>;

  constructor(db: AgentDatabase, mediaDir: string) {
    this.#db = db;
    this.#dir = mediaDir;
    // media goes up only once its event left the outbox (the broker has it), so the hub
    // normally knows the event id before the bytes arrive
    this.#due = db.prepare(
      `SELECT event_id AS eventId, file, attempts FROM media
       WHERE next_at <= ? AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = media.event_id)
       ORDER BY created_at LIMIT ?`,
    );
    this.#nextAt = db.prepare(
      `SELECT MIN(next_at) AS at FROM media
       WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = media.event_id)`,
    );
    this.#delete = db.prepare("DELETE FROM media WHERE event_id = ?");
    this.#defer = db.prepare("UPDATE media SET attempts = ?, next_at = ? WHERE event_id = ?");
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM media");
  }

  get dir(): string {
    return this.#dir;
  }

  /** Rows ready for upload at `now` (ms epoch). */
  due(now: number, limit: number): MediaRow[] {
    return this.#due.all(now, limit);
  }

  /** ms epoch of the earliest deferred row whose event was flushed, if any. */
  nextDueAt(): number | undefined {
    return this.#nextAt.get()?.at ?? undefined;
  }

  /** Forgets a row and deletes its file (uploaded, or rejected for good). */
  async done(row: MediaRow): Promise<void> {
    this.#delete.run(row.eventId);
    await rm(join(this.#dir, row.file), { force: true });
  }

  defer(row: MediaRow, attempts: number, nextAt: number): void {
    this.#defer.run(attempts, nextAt, row.eventId);
  }

  depth(): number {
    return this.#count.get()?.n ?? 0;
  }

  /**
   * Startup recovery: removes half-written `*.tmp` files, files no row points to (a crash
   * between the file rename and the event transaction) and rows whose file is gone.
   */
  async reap(): Promise<{ files: number; rows: number }> {
    await mkdir(this.#dir, { recursive: true });
    const rows = this.#db.prepare<[], { event_id: string; file: string }>("SELECT event_id, file FROM media").all();
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
    for (const r of rows) {
      if (!existsSync(join(this.#dir, r.file))) {
        this.#delete.run(r.event_id);
        gone++;
      }
    }
    return { files, rows: gone };
  }
}
