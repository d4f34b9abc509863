import type { RetentionKind, RetentionLimit } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { type BlobRemover, releaseBlobs } from "./blob-release.js";
import type { ActiveHolds } from "./hold-service.js";
import type { KeepReason, RunCounters } from "./run-counters.js";
import type { SnapshotReferences } from "./snapshot-refs.js";

/** A row a sweep walks: its place in the walk's order, its size, and the blob it releases. */
export interface SweepRow {
  /** ISO time the walk orders by (storage time of events, upload time of media) */
  time: string;
  /** the rest of the keyset after `time` */
  key: readonly string[];
  /** bytes it counts against its kind's budget */
  size: number;
}

/** What a sweep needs to know about one project while it runs. */
export interface SweepContext {
  projectId: string;
  holds: ActiveHolds;
  snapshots: SnapshotReferences;
}

/** One kind of item retention deletes: how to walk it oldest first, what keeps a row, how to delete. */
export interface KindSweep<R extends SweepRow> {
  readonly kind: RetentionKind;
  /** up to `limit` rows after `after` in (time, key) order; only rows older than `before` when given */
  page(ctx: SweepContext, after: SweepRow | null, before: string | null, limit: number): Promise<R[]>;
  /** bytes the kind holds in the project */
  total(ctx: SweepContext): Promise<number>;
  /** for each row, why it stays, or null when it may go */
  keep(ctx: SweepContext, rows: readonly R[]): Promise<Array<KeepReason | null>>;
  /** deletes the rows (in the caller's transaction) */
  remove(trx: Kysely<HubDatabase>, rows: readonly R[]): Promise<Removed>;
}

/** What a batch deleted: how many rows, and the blobs they referenced (with their bytes). */
export interface Removed {
  deleted: number;
  blobs: Array<{ sha256: string; size: number }>;
}

export interface SweepOptions {
  db: Kysely<HubDatabase>;
  blobs: BlobRemover;
  batchSize: number;
  pauseMs: number;
  counters: RunCounters;
  /** ms epoch "now" */
  now: number;
  /** true once the hub is stopping: the sweep ends after its current batch */
  stopping: () => boolean;
}

const DAY_MS = 86_400_000;

/**
 * Applies one kind's limits to one project: first every row older than `maxAgeDays`, then, while
 * the kind holds more than `maxBytes`, the oldest rows. Rows are deleted in batches of
 * `batchSize`, each its own short transaction followed by a pause, so ingest commits between
 * them; a blob goes after its batch committed, and only when nothing references it any more.
 */
export async function sweepKind<R extends SweepRow>(
  sweep: KindSweep<R>,
  ctx: SweepContext,
  limit: RetentionLimit,
  o: SweepOptions,
): Promise<void> {
  if (limit.maxAgeDays !== null) {
    const before = new Date(o.now - limit.maxAgeDays * DAY_MS).toISOString();
    await walk(sweep, ctx, before, Number.POSITIVE_INFINITY, o);
  }
  if (limit.maxBytes !== null) {
    const excess = (await sweep.total(ctx)) - limit.maxBytes;
    if (excess > 0) await walk(sweep, ctx, null, excess, o);
  }
}

async function walk<R extends SweepRow>(
  sweep: KindSweep<R>,
  ctx: SweepContext,
  before: string | null,
  bytesToFree: number,
  o: SweepOptions,
): Promise<void> {
  let freed = 0;
  let after: SweepRow | null = null;
  while (freed < bytesToFree && !o.stopping()) {
    const rows = await sweep.page(ctx, after, before, o.batchSize);
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!;
    const reasons = await sweep.keep(ctx, rows);
    const doomed: R[] = [];
    rows.forEach((row, i) => {
      const reason = reasons[i];
      if (reason) o.counters.kept[reason]++;
      else if (freed < bytesToFree) {
        doomed.push(row);
        freed += row.size;
      }
    });
    if (doomed.length > 0) {
      const removed = await o.db.transaction().execute((trx) => sweep.remove(trx, doomed));
      o.counters.deleted[sweep.kind] += removed.deleted;
      await releaseBlobs(o.db, o.blobs, removed.blobs, ctx.snapshots.blobs, o.counters);
    }
    if (o.pauseMs > 0) await new Promise((r) => setTimeout(r, o.pauseMs));
    else await new Promise((r) => setImmediate(r));
  }
}
