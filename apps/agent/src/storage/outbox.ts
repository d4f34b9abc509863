import { EventEmitter } from "node:events";
import { type Event, newEventId } from "@kensa/contracts";
import type Database from "better-sqlite3";
import type { AgentDatabase } from "./agent-db.js";
import { type MediaQueue, mediaFileName } from "./media-queue.js";

/** An event as the pipeline builds it; the outbox assigns `id`, `seq` and `media`. */
export type EventDraft = Omit<Event, "v" | "id" | "seq" | "media">;

export interface OutboxRow {
  seq: number;
  id: string;
  payload: string;
}

export interface OutboxEvents {
  /** an event was durably stored */
  queued: [event: Event];
  /** events left the outbox: the hub confirmed them (or, with a hub that does not confirm, the broker took them) */
  flushed: [seqs: number[]];
  /** the frame could not be written; the event was kept without media */
  mediaFailed: [eventId: string, error: Error];
}

/**
 * The durable event outbox. `append` assigns a per-device gap-free `seq`: the counter row and
 * the event row change in one transaction, so a crash either keeps both or neither. A row
 * leaves only through `remove`, which the publisher calls on the hub's confirmation (see docs/delivery.md).
 */
export class Outbox extends EventEmitter<OutboxEvents> {
  readonly #db: AgentDatabase;
  readonly #media: MediaQueue;
  readonly #insert: (event: Event, file: string | null, bytes: number) => void;
  readonly #peek: Database.Statement<[number, number], OutboxRow>;
  readonly #delete: Database.Statement<[number]>;
  readonly #count: Database.Statement<[], { n: number }>;

  /** `media` is the spool a finding's frame goes to, its row in the event's transaction */
  constructor(db: AgentDatabase, media: MediaQueue) {
    super();
    this.#db = db;
    this.#media = media;
    const next = db.prepare<[], { value: number }>(
      "UPDATE counters SET value = value + 1 WHERE name = 'event_seq' RETURNING value",
    );
    const insertEvent = db.prepare<[number, string, string]>("INSERT INTO outbox (seq, id, payload) VALUES (?, ?, ?)");
    this.#insert = db.transaction((event: Event, file: string | null, bytes: number) => {
      const row = next.get();
      if (!row) throw new Error("outbox counter row missing");
      event.seq = row.value;
      insertEvent.run(event.seq, event.id, JSON.stringify(event));
      if (file) media.record(event.id, file, bytes, {});
    });
    this.#peek = db.prepare("SELECT seq, id, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    this.#delete = db.prepare("DELETE FROM outbox WHERE seq = ?");
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM outbox");
  }

  /**
   * Stores an event and, when `image` is given, its frame. The file is written atomically
   * before the transaction: a crash in between leaves a file without a row, which startup
   * reaps; never a row without its file. If the file cannot be written (disk full, or no room for it in the media quota) the event
   * is kept without media, since the result matters more than the picture.
   */
  async append(draft: EventDraft, image?: Uint8Array, opts: { id?: string } = {}): Promise<Event> {
    const id = opts.id ?? newEventId();
    let file: string | null = null;
    if (image) {
      try {
        const name = mediaFileName(id, image);
        await this.#media.stage(name, image);
        file = name;
      } catch (err) {
        this.emit("mediaFailed", id, err as Error);
      }
    }
    const event: Event = { v: 1, id, seq: 0, ...draft, media: file !== null };
    try {
      this.#insert(event, file, file ? (image?.byteLength ?? 0) : 0);
    } catch (err) {
      // the staged frame would hold its room in the media quota until a restart reaped it
      if (file) this.#media.unstage(file);
      throw err;
    }
    this.emit("queued", event);
    return event;
  }

  /** Oldest rows with seq > `afterSeq`. */
  peek(afterSeq: number, limit: number): OutboxRow[] {
    return this.#peek.all(afterSeq, limit);
  }

  /** Deletes acknowledged rows in one transaction; returns the seqs that were still there. */
  remove(seqs: readonly number[]): number[] {
    const removed: number[] = [];
    this.#db.transaction(() => {
      for (const seq of seqs) if (this.#delete.run(seq).changes > 0) removed.push(seq);
    })();
    if (removed.length > 0) this.emit("flushed", removed);
    return removed;
  }

  /**
   * Deletes unsent rows without an ack: only the quota keeper's disk emergency calls this, and
   * counts what it drops. Their frames go too (the hub would refuse media of an unknown event).
   */
  drop(seqs: readonly number[]): number {
    let dropped = 0;
    const ids = this.#db.prepare<[number], { id: string }>("SELECT id FROM outbox WHERE seq = ?");
    const files: string[] = [];
    this.#db.transaction(() => {
      for (const seq of seqs) {
        const row = ids.get(seq);
        if (!row) continue;
        const file = this.#media.deleteRow(row.id);
        if (file) files.push(file);
        dropped += this.#delete.run(seq).changes;
      }
    })();
    for (const f of files) this.#media.unlink(f);
    return dropped;
  }

  /** Rows not yet acknowledged. */
  depth(): number {
    return this.#count.get()?.n ?? 0;
  }
}
