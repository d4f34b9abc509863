import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type Database from "better-sqlite3";
import type { AgentDatabase } from "../storage/agent-db.js";
import { fsyncDir, writeFileAtomic } from "../storage/fs-atomic.js";
import { mediaFileName } from "../uplink/outbox.js";
import type { UploadOutcome, UploadQueue, UploadRow } from "../uplink/upload-queue.js";

/** The query of the hub's `PUT /api/v1/captures/:captureId` (CaptureQuery). */
export interface CaptureQueryParams {
  reason: string;
  ts: string;
  label?: string;
  score?: number;
}

export interface CaptureRow extends UploadRow {
  sourceId: string;
  query: CaptureQueryParams;
}

export interface CaptureQueueEvents {
  queued: [id: string];
}

/**
 * Frames kept for learning, waiting for upload: a file under `<dataDir>/captures` and a row,
 * written file first (a crash leaves an orphan file that startup reaps, never a row without
 * its file). Uploaded or refused captures leave disk at once: the hub has them.
 */
export class CaptureQueue extends EventEmitter<CaptureQueueEvents> implements UploadQueue<CaptureRow> {
  readonly #db: AgentDatabase;
  readonly #dir: string;
  readonly #insert: Database.Statement<[string, string, string, string, number, number]>;
  readonly #due: Database.Statement<
    [number, number],
    { key: string; file: string; attempts: number; sourceId: string; query: string }
  >;
  readonly #nextAt: Database.Statement<[], { at: number | null }>;
  readonly #delete: Database.Statement<[string]>;
  readonly #defer: Database.Statement<[number, number, string]>;
  readonly #retryNow: Database.Statement<[]>;
  readonly #count: Database.Statement<[], { n: number }>;

  constructor(db: AgentDatabase, dir: string) {
    super();
    this.#db = db;
    this.#dir = dir;
    this.#insert = db.prepare(
      "INSERT OR IGNORE INTO captures (id, file, source_id, query, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#due = db.prepare(
      `SELECT id AS key, file, attempts, source_id AS sourceId, query FROM captures
       WHERE next_at <= ? ORDER BY created_at LIMIT ?`,
    );
    this.#nextAt = db.prepare("SELECT MIN(next_at) AS at FROM captures");
    this.#delete = db.prepare("DELETE FROM captures WHERE id = ?");
    this.#defer = db.prepare("UPDATE captures SET attempts = ?, next_at = ? WHERE id = ?");
    this.#retryNow = db.prepare("UPDATE captures SET next_at = 0 WHERE next_at > 0");
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM captures");
  }

  get dir(): string {
    return this.#dir;
  }

  /** Stores a frame for upload under `id` (idempotent: the same id twice is one capture). */
  async enqueue(id: string, sourceId: string, image: Uint8Array, query: CaptureQueryParams): Promise<void> {
    const file = mediaFileName(id, image);
    await writeFileAtomic(join(this.#dir, file), image);
    this.#insert.run(id, file, sourceId, JSON.stringify(query), image.byteLength, Date.now());
    this.emit("queued", id);
  }

  due(now: number, limit: number): CaptureRow[] {
    return this.#due.all(now, limit).map((r) => ({ ...r, query: JSON.parse(r.query) as CaptureQueryParams }));
  }

  nextDueAt(): number | undefined {
    return this.#nextAt.get()?.at ?? undefined;
  }

  /** The hub has it (or never will): file first, so an empty queue means an empty folder. */
  async done(row: CaptureRow, _outcome: UploadOutcome): Promise<void> {
    await rm(join(this.#dir, row.file), { force: true });
    this.#delete.run(row.key);
  }

  defer(row: CaptureRow, attempts: number, nextAt: number): void {
    this.#defer.run(attempts, nextAt, row.key);
  }

  retryNow(): void {
    this.#retryNow.run();
  }

  depth(): number {
    return this.#count.get()?.n ?? 0;
  }

  /** Startup recovery, as for media: temp files, files without a row, rows without a file. */
  async reap(): Promise<{ files: number; rows: number }> {
    await mkdir(this.#dir, { recursive: true });
    const rows = this.#db.prepare<[], { id: string; file: string }>("SELECT id, file FROM captures").all();
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
        this.#delete.run(r.id);
        gone++;
      }
    }
    return { files, rows: gone };
  }
}
