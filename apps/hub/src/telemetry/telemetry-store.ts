import { type Kysely, type RawBuilder, sql } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { Aggregate } from "./telemetry-point.js";

/** rows per upsert: 16 values each stays far below SQLite's and PostgreSQL's parameter limits */
export const UPSERT_ROWS = 500;

const T = "telemetry_points";

/** `GREATEST`/`max(a, b)` differ between the dialects; a CASE reads the same in both. */
const greater = (col: string): RawBuilder<number> =>
  sql`CASE WHEN excluded.${sql.ref(col)} > ${sql.ref(`${T}.${col}`)} THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${T}.${col}`)} END`;
const lesser = (col: string): RawBuilder<number> =>
  sql`CASE WHEN excluded.${sql.ref(col)} < ${sql.ref(`${T}.${col}`)} THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${T}.${col}`)} END`;
/** a nullable maximum: null only when both are */
const greaterOrNull = (col: string): RawBuilder<number | null> =>
  sql`CASE WHEN ${sql.ref(`${T}.${col}`)} IS NULL OR excluded.${sql.ref(col)} > ${sql.ref(`${T}.${col}`)} THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${T}.${col}`)} END`;
const sum = (col: string): RawBuilder<number> => sql`${sql.ref(`${T}.${col}`)} + excluded.${sql.ref(col)}`;
/** the value of the later message (by the agent's time), as `mergeInto` does in memory */
const latest = (col: string, keepOnNull = false): RawBuilder<number> =>
  keepOnNull
    ? sql`CASE WHEN excluded.last_ts >= ${sql.ref(`${T}.last_ts`)} AND excluded.${sql.ref(col)} IS NOT NULL THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${T}.${col}`)} END`
    : sql`CASE WHEN excluded.last_ts >= ${sql.ref(`${T}.last_ts`)} THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${T}.${col}`)} END`;

/**
 * The stored side of the telemetry history. Writes are multi-row upserts keyed by device and
 * minute whose conflict clause merges like `mergeInto`: a minute written twice (a second flush
 * of the same replica, or another replica that received some of the same device's messages)
 * stays one row holding everything.
 */
export class TelemetryStore {
  readonly #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /**
   * Writes at most UPSERT_ROWS aggregates (distinct device and minute) in one statement, in key
   * order: two replicas writing overlapping minutes lock rows in the same order, not a deadlock.
   */
  async upsert(rows: readonly Aggregate[]): Promise<void> {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => cmp(a.device_id, b.device_id) || cmp(a.minute, b.minute));
    await this.#db
      .insertInto(T)
      .values(sorted)
      .onConflict((oc) =>
        oc.columns(["device_id", "minute"]).doUpdateSet({
          samples: sum("samples"),
          fps_sum: sum("fps_sum"),
          fps_min: lesser("fps_min"),
          fps_max: greater("fps_max"),
          p50_sum: sum("p50_sum"),
          p95_max: greater("p95_max"),
          outbox_max: greater("outbox_max"),
          media_queue_max: greater("media_queue_max"),
          capture_queue_max: greaterOrNull("capture_queue_max"),
          // every right-hand side reads the stored row as it was (SQL evaluates SET at once)
          frames_total: latest("frames_total"),
          frames_dropped: latest("frames_dropped"),
          events_dropped: latest("events_dropped", true),
          media_evicted: latest("media_evicted", true),
          last_ts: greater("last_ts") as unknown as RawBuilder<string>,
        }),
      )
      .execute();
  }

  /** One device's minutes from `since` (inclusive) to `until` (exclusive), oldest first. */
  async device(deviceId: string, since: string, until: string): Promise<Aggregate[]> {
    return this.#db
      .selectFrom(T)
      .selectAll()
      .where("device_id", "=", deviceId)
      .where("minute", ">=", since)
      .where("minute", "<", until)
      .orderBy("minute")
      .execute();
  }

  /** Every in-service device's minutes (of a project) from `since` to `until`. */
  async fleet(projectId: string | undefined, since: string, until: string): Promise<Aggregate[]> {
    return this.#db
      .selectFrom(T)
      .selectAll()
      .where("minute", ">=", since)
      .where("minute", "<", until)
      .where("device_id", "in", (eb) =>
        eb
          .selectFrom("devices")
          .select("id")
          .where("retired_at", "is", null)
          .where("deleted_at", "is", null)
          .$if(projectId !== undefined, (q) => q.where("project_id", "=", projectId!)),
      )
      .orderBy("device_id")
      .orderBy("minute")
      .execute();
  }

  /** The in-service devices (of a project), to tell which pending aggregates a fleet query shows. */
  async deviceIds(projectId: string | undefined): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom("devices")
      .select("id")
      .where("retired_at", "is", null)
      .where("deleted_at", "is", null)
      .$if(projectId !== undefined, (q) => q.where("project_id", "=", projectId!))
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Deletes at most `limit` of the oldest points before `before`; returns how many went. One
   * short transaction per call, so ingest commits between batches.
   */
  async pruneBatch(before: string, limit: number): Promise<number> {
    const keys = await this.#db
      .selectFrom(T)
      .select(["device_id", "minute"])
      .where("minute", "<", before)
      .orderBy("minute")
      .limit(limit)
      .execute();
    if (keys.length === 0) return 0;
    const byMinute = new Map<string, string[]>();
    for (const k of keys) byMinute.set(k.minute, [...(byMinute.get(k.minute) ?? []), k.device_id]);
    return this.#db.transaction().execute(async (trx) => {
      let deleted = 0;
      // the oldest keys span few minutes (every device has one point per minute): few statements
      for (const [minute, ids] of byMinute) {
        const res = await trx
          .deleteFrom(T)
          .where("minute", "=", minute)
          .where("device_id", "in", ids)
          .executeTakeFirst();
        deleted += Number(res.numDeletedRows);
      }
      return deleted;
    });
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
