import type { StoredEvent } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { EventsTable, HubDatabase } from "../db/schema.js";
import { decodeCursor, encodeCursor, type Page, pageOf, storedInstant } from "./keyset-cursor.js";

/**
 * `seq`: each device's events in the order it sent them (device, seq, id ascending), what agents
 * and tests read with `afterSeq`. `newest`: newest first by `timeField` (time, id descending),
 * what a person browsing a project or device wants.
 */
export type EventOrder = "seq" | "newest";
/** `ts`: when the device captured the frame; `receivedAt`: when the hub stored the event. */
export type EventTimeField = "ts" | "receivedAt";

export interface EventQuery {
  deviceId?: string;
  projectId?: string;
  /** only events with a greater seq (meant with `deviceId`: one device's events after one it has) */
  afterSeq?: number;
  /** inclusive lower bound on `timeField` */
  from?: string;
  /** exclusive upper bound on `timeField` */
  to?: string;
  timeField?: EventTimeField;
  order?: EventOrder;
  /** the `nextCursor` of the previous page, made with the same order */
  cursor?: string;
  limit: number;
}

const TIME_COLUMN = { ts: "ts", receivedAt: "received_at" } as const;

/**
 * One page of events. Each filter and order is served by an index in the list's order
 * (migration 0009), so a page reads `limit + 1` index entries whatever its depth:
 * - `seq`: (project_id, device_id, seq, id) with a project, else (device_id, seq, id);
 * - `newest`: (project_id, <time>, id) with a project, else (device_id, received_at, id).
 * Without a project or device, `newest` has no index to follow and sorts every event in range;
 * one device's events by capture time (`ts`) sort that device's events (migration 0011 dropped
 * that index: each insert paid for it).
 * In `seq` order `from`/`to` are filters over the rows the index walks, not a range of it.
 * Throws KENSA_ERR_VALIDATION for a cursor of another list or order, or a bad time.
 */
export async function listEvents(db: Kysely<HubDatabase>, query: EventQuery): Promise<Page<StoredEvent>> {
  const order = query.order ?? "seq";
  const field = query.timeField ?? "receivedAt";
  const time = TIME_COLUMN[field];
  const from = query.from === undefined ? undefined : storedInstant(query.from, "from");
  let to = query.to === undefined ? undefined : storedInstant(query.to, "to");
  let q = db.selectFrom("events").selectAll();
  if (query.projectId !== undefined) q = q.where("project_id", "=", query.projectId);
  if (query.deviceId !== undefined) q = q.where("device_id", "=", query.deviceId);
  if (query.afterSeq !== undefined) q = q.where("seq", ">", query.afterSeq);
  if (from !== undefined) q = q.where(time, ">=", from);

  if (order === "seq") {
    if (to !== undefined) q = q.where(time, "<", to);
    if (query.cursor !== undefined) {
      const [device, seq, id] = decodeCursor<[string, number, string]>(query.cursor, "seq", [
        "string",
        "number",
        "string",
      ]);
      // With the device fixed, SQLite reads a row value that starts with it as a filter, not a
      // range: the (seq, id) that follow are the range then.
      if (query.deviceId === undefined) {
        q = q.where((eb) => eb(eb.refTuple("device_id", "seq", "id"), ">", eb.tuple(device, seq, id)));
      } else if (device === query.deviceId) {
        q = q.where((eb) => eb(eb.refTuple("seq", "id"), ">", eb.tuple(seq, id)));
      } else if (device > query.deviceId) {
        return { items: [], nextCursor: null };
      }
    }
    const rows = await q
      .orderBy("device_id")
      .orderBy("seq")
      .orderBy("id")
      .limit(query.limit + 1)
      .execute();
    return pageOf(rows, query.limit, toStoredEvent, (r) => encodeCursor("seq", [r.device_id, Number(r.seq), r.id]));
  }

  const tag = `newest:${field}`;
  if (query.cursor !== undefined) {
    const [at, id] = decodeCursor<[string, string]>(query.cursor, tag, ["string", "string"]);
    // (time, id) < (at, id) written as a range `time <= at` the index walks, with only the rows
    // sharing `at` checked by id: SQLite left a row value beside the `from` bound as a filter,
    // so a deep page walked every row above it. The cursor then replaces a later `to`.
    q = q.where(time, "<=", at).where((eb) => eb.or([eb(time, "<", at), eb("id", "<", id)]));
    if (to !== undefined && at < to) to = undefined;
  }
  if (to !== undefined) q = q.where(time, "<", to);
  const rows = await q
    .orderBy(time, "desc")
    .orderBy("id", "desc")
    .limit(query.limit + 1)
    .execute();
  return pageOf(rows, query.limit, toStoredEvent, (r) => encodeCursor(tag, [r[time], r.id]));
}

export function toStoredEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    id: row.id,
    seq: Number(row.seq),
    deviceId: row.device_id,
    projectId: row.project_id,
    pipeline: row.pipeline,
    sourceId: row.source_id,
    ts: row.ts,
    receivedAt: row.received_at,
    modelVersionId: row.model_version_id,
    bundleSha256: row.bundle_sha256,
    result: JSON.parse(row.result) as StoredEvent["result"],
    frameMeta: JSON.parse(row.frame_meta) as StoredEvent["frameMeta"],
    mediaSha256: row.media_sha256,
  };
}
