import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { decodeSyncCursor, encodeSyncCursor, type SyncCursor } from "./sync-cursor.js";

/** A site hub's stream positions, in its own database: a restart or a cut resumes from them. */
export class CursorStore {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  async get(stream: string): Promise<SyncCursor> {
    const row = await this.#db
      .selectFrom("federation_cursors")
      .select("cursor")
      .where("stream", "=", stream)
      .executeTakeFirst();
    return decodeSyncCursor(row?.cursor);
  }

  /** the raw text (central's opaque model cursor) */
  async text(stream: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom("federation_cursors")
      .select("cursor")
      .where("stream", "=", stream)
      .executeTakeFirst();
    return row?.cursor;
  }

  async set(stream: string, cursor: SyncCursor | string): Promise<void> {
    const text = typeof cursor === "string" ? cursor : encodeSyncCursor(cursor);
    await this.#db
      .insertInto("federation_cursors")
      .values({ stream, cursor: text, updated_at: isoNow() })
      .onConflict((oc) => oc.column("stream").doUpdateSet({ cursor: text, updated_at: isoNow() }))
      .execute();
  }
}
