import type { AgentDatabase } from "../storage/agent-db.js";
import { DurableSpool } from "../storage/durable-spool.js";
import { mediaFileName } from "../storage/media-queue.js";
import type { UploadRow } from "../storage/upload-queue.js";

/** The query of the hub's `PUT /api/v1/captures/:captureId` (CaptureQuery). */
export interface CaptureQueryParams {
  reason: string;
  ts: string;
  label?: string;
  score?: number;
}

/** What a capture carries beside its file. */
export interface CaptureItem {
  sourceId: string;
  query: CaptureQueryParams;
}

export interface CaptureRow extends UploadRow, CaptureItem {}

/**
 * Frames kept for learning, waiting for upload: a file under `<dataDir>/captures` and a row.
 * Uploaded or refused captures leave disk at once: the hub has them.
 */
export class CaptureQueue extends DurableSpool<CaptureItem, CaptureRow> {
  constructor(db: AgentDatabase, dir: string) {
    super(db, dir, {
      table: "captures",
      key: "id",
      columns: ["source_id", "query"],
      values: (c) => [c.sourceId, JSON.stringify(c.query)],
      select: "source_id AS sourceId, query",
      decode: (r) => ({ ...r, query: JSON.parse(r.query as string) as CaptureQueryParams }) as CaptureRow,
      // a capture id is its event's: the same id twice is one capture
      onConflict: "ignore",
    });
  }

  /** Stores a frame for upload under `id` (idempotent: the same id twice is one capture). */
  enqueue(id: string, sourceId: string, image: Uint8Array, query: CaptureQueryParams): Promise<void> {
    return this.put(id, mediaFileName(id, image), image, { sourceId, query });
  }
}
