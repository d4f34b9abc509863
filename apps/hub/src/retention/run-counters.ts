import type { RetentionRun } from "@kensa/contracts";

/** Why an item past its limit was kept. */
export type KeepReason = keyof RetentionRun["kept"];

/** What a run counts as it goes. */
export type RunCounters = Pick<RetentionRun, "deleted" | "kept" | "bytesFreed" | "failed">;

export function emptyCounters(): RunCounters {
  return {
    deleted: { events: 0, frames: 0, deviceFrames: 0, clips: 0, captures: 0, blobs: 0 },
    kept: { openIncident: 0, incidentEvent: 0, legalHold: 0, snapshot: 0, labeled: 0, sharedBlob: 0 },
    bytesFreed: 0,
    failed: [],
  };
}

/** Adds `b` into `a` (process-lifetime totals for /metrics). */
export function addCounters(a: RunCounters, b: RunCounters): void {
  for (const k of Object.keys(a.deleted) as Array<keyof RunCounters["deleted"]>) a.deleted[k] += b.deleted[k];
  for (const k of Object.keys(a.kept) as KeepReason[]) a.kept[k] += b.kept[k];
  a.bytesFreed += b.bytesFreed;
}
