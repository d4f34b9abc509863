import type { AgentDatabase } from "./agent-db.js";
import { DurableSpool } from "./durable-spool.js";
import type { UploadRow } from "./upload-queue.js";

export interface MediaRow extends UploadRow {
  eventId: string;
}

export interface MediaQueueOptions {
  /** keep uploaded frames on disk as a ring buffer (the disk quotas evict the oldest); default true */
  keepUploaded?: boolean;
}

/** Media file name: `<eventId>.jpg`, or `.png` for PNG frames (folder sources), which are kept as they are. */
export function mediaFileName(eventId: string, image: Uint8Array): string {
  const png = image[0] === 0x89 && image[1] === 0x50 && image[2] === 0x4e && image[3] === 0x47;
  return `${eventId}.${png ? "png" : "jpg"}`;
}

/**
 * The frames of finding events, which the outbox stores beside their event (the row in the
 * event's transaction). A frame goes up once its event left the outbox; after a 2xx it stays
 * on disk (`uploaded_at` set) as the local ring buffer of incident frames, until the quota
 * keeper evicts it, oldest first.
 */
export class MediaQueue extends DurableSpool<Record<never, never>, MediaRow> {
  constructor(db: AgentDatabase, mediaDir: string, opts: MediaQueueOptions = {}) {
    const keepUploaded = opts.keepUploaded ?? true;
    super(db, mediaDir, {
      table: "media",
      key: "event_id",
      columns: [],
      values: () => [],
      select: "event_id AS eventId",
      // media goes up only once its event left the outbox (the broker has it), so the hub
      // normally knows the event id before the bytes arrive
      readyWhen: "NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = media.event_id)",
      kept: {
        pending: "uploaded_at IS NULL",
        settle: "uploaded_at = ?",
        mark: () => Date.now(),
        // refused or missing: row and file go
        keeps: (outcome) => outcome === "uploaded" && keepUploaded,
      },
    });
  }
}
