import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { afterRow } from "./keyset.js";
import type { KindSweep, Removed, SweepContext, SweepRow } from "./kind-sweep.js";
import type { KeepReason } from "./run-counters.js";

export interface CaptureRow extends SweepRow {
  id: string;
  deviceId: string | null;
  sha256: string | null;
  labelStatus: string;
}

/** bytes of a blob, or 0 when absent */
export type BlobSize = (sha256: string) => Promise<number>;

/**
 * Captures: frames devices uploaded for labeling (`samples` with source `capture`), by the time
 * they arrived, counted by the bytes of their image. Only captures still awaiting a label go: a
 * labeled capture is a dataset sample, and one in a snapshot is part of a dataset version.
 */
export class CaptureSweep implements KindSweep<CaptureRow> {
  readonly kind = "captures";
  #db: Kysely<HubDatabase>;
  #size: BlobSize;

  constructor(db: Kysely<HubDatabase>, size: BlobSize) {
    this.#db = db;
    this.#size = size;
  }

  async page(ctx: SweepContext, after: SweepRow | null, before: string | null, limit: number): Promise<CaptureRow[]> {
    let q = this.#db
      .selectFrom("samples")
      .select(["id", "device_id", "image_sha256", "label_status", "created_at"])
      .where("project_id", "=", ctx.projectId)
      .where("source", "=", "capture");
    if (before) q = q.where("created_at", "<", before);
    if (after) q = q.where((eb) => afterRow(eb, ["created_at", "id"], after));
    const rows = await q.orderBy("created_at").orderBy("id").limit(limit).execute();
    const out: CaptureRow[] = [];
    for (const r of rows) {
      out.push({
        id: r.id,
        deviceId: r.device_id,
        sha256: r.image_sha256,
        labelStatus: r.label_status,
        time: r.created_at,
        key: [r.id],
        size: r.image_sha256 ? await this.#size(r.image_sha256) : 0,
      });
    }
    return out;
  }

  async total(ctx: SweepContext): Promise<number> {
    let total = 0;
    let after: SweepRow | null = null;
    for (
      let rows = await this.page(ctx, null, null, 1000);
      rows.length > 0;
      rows = await this.page(ctx, after, null, 1000)
    ) {
      after = rows[rows.length - 1]!;
      for (const r of rows) total += r.size;
    }
    return total;
  }

  async keep(ctx: SweepContext, rows: readonly CaptureRow[]): Promise<Array<KeepReason | null>> {
    return rows.map((r) => {
      if (ctx.holds.project || (r.deviceId && ctx.holds.devices.has(r.deviceId))) return "legalHold";
      if (ctx.snapshots.sampleIds.has(r.id)) return "snapshot";
      if (r.labelStatus !== "unlabeled") return "labeled";
      return null;
    });
  }

  async remove(trx: Kysely<HubDatabase>, rows: readonly CaptureRow[]): Promise<Removed> {
    // a person may have labeled one since the page was read: it stays
    const still = await trx
      .selectFrom("samples")
      .select("id")
      .where(
        "id",
        "in",
        rows.map((r) => r.id),
      )
      .where("label_status", "=", "unlabeled")
      .execute();
    const ids = new Set(still.map((r) => r.id));
    if (ids.size === 0) return { deleted: 0, blobs: [] };
    await trx
      .deleteFrom("label_revisions")
      .where("sample_id", "in", [...ids])
      .execute();
    const gone = await trx
      .deleteFrom("samples")
      .where("id", "in", [...ids])
      .where("label_status", "=", "unlabeled")
      .returning("id")
      .execute();
    const deleted = new Set(gone.map((r) => r.id));
    const blobs = rows.filter((r) => deleted.has(r.id) && r.sha256).map((r) => ({ sha256: r.sha256!, size: r.size }));
    return { deleted: deleted.size, blobs };
  }
}
