import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { AgentDatabase } from "../storage/agent-db.js";
import type { UploadOutcome, UploadQueue, UploadRow } from "../uplink/upload-queue.js";

/** One incident clip kept on the device. */
export interface ClipInfo {
  file: string;
  eventId: string;
  sourceId: string;
  bytes: number;
  frames: number;
  durationMs: number;
  /** ISO time it was written */
  createdAt: string;
  /** whether the hub has it: a refused clip (too large for the hub's limit) stays only here */
  upload: "pending" | "uploaded" | "refused";
}

/** A clip waiting for upload to `PUT /api/v1/events/<eventId>/clip`. */
export interface ClipUploadRow extends UploadRow {
  eventId: string;
  frames: number;
  durationMs: number;
}

interface ClipRow {
  file: string;
  event_id: string;
  source_id: string;
  bytes: number;
  frames: number;
  duration_ms: number;
  created_at: number;
  upload: ClipInfo["upload"];
}

/**
 * Clips under `<dataDir>/clips`, one row each; the quota keeper evicts the oldest. Also the
 * durable upload queue of clips: a clip goes up once its event left the outbox (the hub
 * normally knows the event by then), and stays on the device after.
 */
export class ClipStore implements UploadQueue<ClipUploadRow> {
  readonly #db: AgentDatabase;
  readonly dir: string;

  /** the upload queue's statements, prepared once: the uploader asks on every wake */
  readonly #queue;

  constructor(db: AgentDatabase, dir: string) {
    this.#db = db;
    this.dir = dir;
    // like media, a clip goes up only once its event left the outbox (the broker has it)
    const ready = "upload = 'pending' AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = clips.event_id)";
    this.#queue = {
      due: db.prepare<[number, number], ClipUploadRow>(
        `SELECT file AS key, file, event_id AS eventId, frames, duration_ms AS durationMs, attempts FROM clips
         WHERE ${ready} AND next_at <= ? ORDER BY created_at, rowid LIMIT ?`,
      ),
      nextAt: db.prepare<[], { at: number | null }>(`SELECT MIN(next_at) AS at FROM clips WHERE ${ready}`),
      delete: db.prepare<[string]>("DELETE FROM clips WHERE file = ?"),
      settle: db.prepare<[string, string]>("UPDATE clips SET upload = ? WHERE file = ?"),
      defer: db.prepare<[number, number, string]>("UPDATE clips SET attempts = ?, next_at = ? WHERE file = ?"),
      retryNow: db.prepare("UPDATE clips SET next_at = 0 WHERE upload = 'pending' AND next_at > 0"),
      depth: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM clips WHERE upload = 'pending'"),
    };
  }

  add(c: Omit<ClipInfo, "createdAt" | "upload">): void {
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO clips (file, event_id, source_id, bytes, frames, duration_ms, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.file, c.eventId, c.sourceId, c.bytes, c.frames, c.durationMs, Date.now());
  }

  due(now: number, limit: number): ClipUploadRow[] {
    return this.#queue.due.all(now, limit);
  }

  nextDueAt(): number | undefined {
    return this.#queue.nextAt.get()?.at ?? undefined;
  }

  /** Uploaded or refused, the clip stays on the device for the quota to evict; a vanished file loses its row. */
  async done(row: ClipUploadRow, outcome: UploadOutcome): Promise<void> {
    if (outcome === "missing") this.#queue.delete.run(row.file);
    else this.#queue.settle.run(outcome, row.file);
  }

  defer(row: ClipUploadRow, attempts: number, nextAt: number): void {
    this.#queue.defer.run(attempts, nextAt, row.file);
  }

  retryNow(): void {
    this.#queue.retryNow.run();
  }

  /** clips waiting for upload */
  depth(): number {
    return this.#queue.depth.get()?.n ?? 0;
  }

  /** Newest first. */
  list(limit = 100): ClipInfo[] {
    return this.#db
      .prepare<[number], ClipRow>("SELECT * FROM clips ORDER BY created_at DESC LIMIT ?")
      .all(limit)
      .map(toInfo);
  }

  get(file: string): ClipInfo | undefined {
    const row = this.#db.prepare<[string], ClipRow>("SELECT * FROM clips WHERE file = ?").get(file);
    return row ? toInfo(row) : undefined;
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  /** Startup recovery: temp files and files without a row go; rows without a file go. */
  async reap(): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    const known = new Set(
      this.#db
        .prepare<[], { file: string }>("SELECT file FROM clips")
        .all()
        .map((r) => r.file),
    );
    let n = 0;
    for (const name of await readdir(this.dir)) {
      if (!known.has(name)) {
        await rm(join(this.dir, name), { force: true, recursive: true });
        n++;
      }
    }
    for (const file of known) {
      if (!existsSync(join(this.dir, file))) {
        this.#db.prepare("DELETE FROM clips WHERE file = ?").run(file);
        n++;
      }
    }
    return n;
  }
}

function toInfo(r: ClipRow): ClipInfo {
  return {
    file: r.file,
    eventId: r.event_id,
    sourceId: r.source_id,
    bytes: r.bytes,
    frames: r.frames,
    durationMs: r.duration_ms,
    createdAt: new Date(r.created_at).toISOString(),
    upload: r.upload,
  };
}
