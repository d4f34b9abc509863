import type { FsckAction, FsckReport } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import { EarlyMedia, type EarlyMediaLimits } from "../incidents/early-media.js";
import { recordProblem } from "./blob-integrity-service.js";
import { allReferenced, collectBlobReferences } from "./blob-references.js";

export type { FsckAction, FsckReport } from "@kensa/contracts";

export interface FsckOptions {
  /** fix what is found; without it fsck only reports (and changes nothing) */
  repair: boolean;
  /** ms; an unreferenced blob younger than this is kept (an upload whose row is not committed yet) */
  orphanGraceMs: number;
  /** the early-media bounds the hub runs with (its grace decides what is orphaned) */
  earlyMedia: EarlyMediaLimits;
  now?: Date;
}

/** True when fsck found nothing left to fix (after a repair, what it could not fix remains). */
export function fsckClean(r: FsckReport): boolean {
  const open = (a: { action: FsckAction }) => a.action === "reported" || a.action === "marked";
  return (
    r.corrupt.filter(open).length === 0 &&
    r.missing.length === 0 &&
    r.orphanBlobs.filter(open).length === 0 &&
    r.orphanEarlyMedia.filter(open).length === 0
  );
}

/**
 * Checks a hub's blobs against its metadata: every blob hashed against its name, every named
 * blob present, every stored blob named somewhere, and early media whose event never came.
 * Report only unless `repair`: then corrupt blobs are quarantined, missing ones recorded in
 * `blob_problems` (the rows naming them stay, and a device's re-upload restores the blob),
 * orphans past their grace deleted and orphaned early media removed. Runs beside a live hub
 * or offline against its data dir and database.
 */
export async function runFsck(db: Kysely<HubDatabase>, blobs: BlobStore, o: FsckOptions): Promise<FsckReport> {
  const now = o.now ?? new Date();
  const report: FsckReport = {
    repair: o.repair,
    checked: { blobs: 0, bytes: 0 },
    corrupt: [],
    missing: [],
    orphanBlobs: [],
    orphanEarlyMedia: [],
    resolvedProblems: [],
    quarantined: 0,
  };

  const stored: Array<{ sha256: string; size: number; storedAt: string }> = [];
  for await (const b of blobs.list()) {
    const verdict = await blobs.verify(b.sha256, { via: "fsck", quarantine: o.repair });
    if (verdict === "missing") continue;
    report.checked.blobs++;
    report.checked.bytes += b.size;
    if (verdict === "ok") stored.push(b);
    else {
      report.corrupt.push({ sha256: b.sha256, size: b.size, action: o.repair ? "quarantined" : "reported" });
      if (o.repair) await recordProblem(db, b.sha256, "corrupt", "fsck");
    }
  }
  for await (const _ of blobs.quarantined()) report.quarantined++;

  // early media first: what it removes may leave blobs that nothing names any more
  const early = new EarlyMedia(db, o.earlyMedia);
  if (o.repair) {
    const { removed } = await early.sweep(now);
    for (const r of removed) report.orphanEarlyMedia.push({ ...pick(r), action: "removed" });
  } else {
    for (const r of await early.orphans(now)) report.orphanEarlyMedia.push({ ...pick(r), action: "reported" });
  }

  const corrupt = new Set(report.corrupt.map((c) => c.sha256));
  const refs = await collectBlobReferences(db, blobs, corrupt);
  const present = new Set(stored.map((b) => b.sha256));
  const missing = new Map<string, string[]>();
  for (const [where, shas] of refs) {
    if (where === "snapshot manifests") continue; // names label hashes too, not only blobs
    for (const sha of shas) {
      // a corrupt blob is still there when only reported; once quarantined it is missing
      if (present.has(sha) || (!o.repair && corrupt.has(sha))) continue;
      missing.set(sha, [...(missing.get(sha) ?? []), where]);
    }
  }
  for (const [sha256, referencedBy] of [...missing].sort(([a], [b]) => (a < b ? -1 : 1))) {
    report.missing.push({ sha256, referencedBy, action: o.repair ? "marked" : "reported" });
    if (o.repair && !corrupt.has(sha256)) await recordProblem(db, sha256, "missing", "fsck");
  }

  const referenced = allReferenced(refs);
  const graceStart = now.getTime() - o.orphanGraceMs;
  for (const b of stored) {
    if (referenced.has(b.sha256)) continue;
    const old = Date.parse(b.storedAt) < graceStart;
    let action: FsckAction = old ? "reported" : "kept";
    if (o.repair && old && (await blobs.delete(b.sha256))) action = "deleted";
    report.orphanBlobs.push({ ...b, action });
  }

  // problems recorded earlier (by reads, the scrub, a previous fsck) that are fixed now
  for (const p of await db.selectFrom("blob_problems").select(["sha256", "problem"]).execute()) {
    if (!present.has(p.sha256) || corrupt.has(p.sha256)) continue;
    report.resolvedProblems.push({ ...p, action: o.repair ? "cleared" : "reported" });
    if (o.repair) await db.deleteFrom("blob_problems").where("sha256", "=", p.sha256).execute();
  }
  return report;
}

function pick(r: { eventId: string; deviceId: string; kind: string }) {
  return { eventId: r.eventId, deviceId: r.deviceId, kind: r.kind };
}
