import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { AgentDatabase } from "../agent-db.js";

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
}

interface ClipRow {
  file: string;
  event_id: string;
  source_id: string;
  bytes: number;
  frames: number;
  duration_ms: number;
  created_at: number;
}

/** Clips under `<dataDir>/clips`, one row each; the quota keeper evicts the oldest. */
export class ClipStore {
  readonly #db: AgentDatabase;
  readonly dir: string;

  constructor(db: AgentDatabase, dir: string) {
    this.#db = db;
    this.dir = dir;
  }

  add(c: Omit<ClipInfo, "createdAt">): void {
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO clips (file, event_id, source_id, bytes, frames, duration_ms, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.file, c.eventId, c.sourceId, c.bytes, c.frames, c.durationMs, Date.now());
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
  };
}
