import type { AgentDatabase } from "../storage/agent-db.js";
import { DurableSpool } from "../storage/durable-spool.js";
import type { UploadRow } from "../storage/upload-queue.js";

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

/** What a clip carries beside its file. */
export type ClipItem = Pick<ClipInfo, "eventId" | "sourceId" | "frames" | "durationMs">;

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
 * Clips under `<dataDir>/clips`, one row each, keyed by file name; the quota keeper evicts the
 * oldest. Also the durable upload queue of clips: a clip goes up once its event left the outbox
 * (the hub normally knows the event by then), and stays on the device after.
 */
export class ClipStore extends DurableSpool<ClipItem, ClipUploadRow> {
  readonly #list;

  constructor(db: AgentDatabase, dir: string) {
    super(db, dir, {
      table: "clips",
      key: "file",
      columns: ["event_id", "source_id", "frames", "duration_ms"],
      values: (c) => [c.eventId, c.sourceId, c.frames, c.durationMs],
      select: "event_id AS eventId, frames, duration_ms AS durationMs",
      // a clip written again for its event replaces the row (and starts its upload over)
      onConflict: "replace",
      readyWhen: "NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = clips.event_id)",
      kept: {
        pending: "upload = 'pending'",
        settle: "upload = ?",
        mark: (outcome) => outcome,
        // uploaded or refused, the clip stays for the quota to evict; a vanished file loses its row
        keeps: (outcome) => outcome !== "missing",
      },
    });
    this.#list = {
      newest: db.prepare<[number], ClipRow>("SELECT * FROM clips ORDER BY created_at DESC LIMIT ?"),
      one: db.prepare<[string], ClipRow>("SELECT * FROM clips WHERE file = ?"),
    };
  }

  /** Records a clip whose file is already in place (durable) under the clips dir. */
  add(c: ClipItem & { file: string; bytes: number }): void {
    this.record(c.file, c.file, c.bytes, c);
  }

  /** Writes a clip through `write` (ffmpeg, given a temp path) and records it; returns it as listed. */
  async save(file: string, item: ClipItem, write: (tmpPath: string) => Promise<void>): Promise<ClipInfo | undefined> {
    await this.putWith(file, file, item, write);
    return this.get(file);
  }

  /** Newest first. */
  list(limit = 100): ClipInfo[] {
    return this.#list.newest.all(limit).map(toInfo);
  }

  get(file: string): ClipInfo | undefined {
    const row = this.#list.one.get(file);
    return row ? toInfo(row) : undefined;
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
