import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { isKensaError } from "@kensa/contracts";
import type { BlobStore, ListedBlob } from "../blobstore/blob-store.js";

/** Why a blob was not copied. */
export type MigrateFailure = "corrupt-at-source" | "target-refused";

export interface BlobMigrateReport {
  /** the source and target, as `describeBlobs` names them */
  from: string;
  to: string;
  /** the address the run resumed after (from the state file), else null */
  resumedAfter: string | null;
  /** blobs looked at in this run (after the resume point) */
  listed: number;
  /** copied, then read back from the target and verified */
  copied: number;
  bytesCopied: number;
  /** already in the target with the right content (hashed there), not copied again */
  present: number;
  bytesPresent: number;
  /** in the target but corrupt there: quarantined in the target, then copied */
  repaired: number;
  /** listed, then deleted from the source before they were read (e.g. by retention) */
  vanished: number;
  failed: Array<{ sha256: string; size: number; reason: MigrateFailure; code: string; message: string }>;
  /** true when the listing was gone through to its end (the failed blobs aside) */
  complete: boolean;
}

export interface BlobMigrateOptions {
  /** descriptions of both stores; a state file of another pair is not resumed from */
  from: string;
  to: string;
  /**
   * progress file (`after`: the highest address below which every blob is done), written after
   * each batch so an interrupted run resumes there; null keeps no state
   */
  stateFile: string | null;
  /** ignore the state file and look at every blob again */
  restart?: boolean;
  /** blobs copied at once */
  parallel?: number;
  onProgress?: (r: BlobMigrateReport) => void;
}

interface MigrateState {
  from: string;
  to: string;
  after: string | null;
  complete: boolean;
}

/**
 * Copies every blob of `src` into `dst`, in address order. Each blob is hashed where it is
 * read (the source refuses content that does not match its address) and where it is written
 * (`expectedSha256`), then read back from the target and hashed again. A blob the target holds
 * already is hashed there and kept when it matches. Resumable: the state file records how far
 * the run got, and a rerun skips what is done. The source is never changed, except that a blob
 * found corrupt there is quarantined, as any read of it would.
 */
export async function migrateBlobs(src: BlobStore, dst: BlobStore, o: BlobMigrateOptions): Promise<BlobMigrateReport> {
  const prior = o.restart || !o.stateFile ? null : await readState(o.stateFile);
  const resumeAfter = prior && prior.from === o.from && prior.to === o.to && !prior.complete ? prior.after : null;
  const report: BlobMigrateReport = {
    from: o.from,
    to: o.to,
    resumedAfter: resumeAfter,
    listed: 0,
    copied: 0,
    bytesCopied: 0,
    present: 0,
    bytesPresent: 0,
    repaired: 0,
    vanished: 0,
    failed: [],
    complete: false,
  };
  const parallel = Math.max(1, o.parallel ?? 4);
  let batch: ListedBlob[] = [];
  const flush = async () => {
    await Promise.all(batch.map((b) => copyOne(src, dst, b, report)));
    const last = batch.at(-1);
    batch = [];
    // the resume point stops before the first failure, so a rerun tries that blob again
    if (last && o.stateFile && report.failed.length === 0) {
      await writeState(o.stateFile, { from: o.from, to: o.to, after: last.sha256, complete: false });
    }
    o.onProgress?.(report);
  };
  for await (const b of src.list(resumeAfter ? { after: resumeAfter } : {})) {
    report.listed++;
    batch.push(b);
    if (batch.length >= parallel) await flush();
  }
  await flush();
  report.complete = true;
  if (o.stateFile && report.failed.length === 0) {
    await writeState(o.stateFile, { from: o.from, to: o.to, after: null, complete: true });
  }
  return report;
}

async function copyOne(src: BlobStore, dst: BlobStore, b: ListedBlob, report: BlobMigrateReport): Promise<void> {
  const { sha256 } = b;
  let wasCorrupt = false;
  try {
    const there = await dst.verify(sha256, { via: "fsck" });
    if (there === "ok") {
      report.present++;
      report.bytesPresent += b.size;
      return;
    }
    wasCorrupt = there === "corrupt";
  } catch (err) {
    fail(report, b, "target-refused", err);
    return;
  }
  let read: Awaited<ReturnType<BlobStore["stream"]>>;
  try {
    read = await src.stream(sha256);
  } catch (err) {
    fail(report, b, sourceOrTarget(err), err);
    return;
  }
  if (!read) {
    report.vanished++;
    return;
  }
  try {
    // a large corrupt source errors its stream before the end: the put then stores nothing
    const info = await dst.put(read.stream, { expectedSha256: sha256 });
    if ((await dst.verify(sha256, { via: "fsck", quarantine: false })) !== "ok") {
      fail(report, b, "target-refused", new Error("the copy did not read back with its sha256"));
      return;
    }
    report.copied++;
    report.bytesCopied += info.size;
    if (wasCorrupt) report.repaired++;
  } catch (err) {
    read.stream.destroy();
    fail(report, b, sourceOrTarget(err), err);
  }
}

function sourceOrTarget(err: unknown): MigrateFailure {
  return isKensaError(err) && err.code === "KENSA_ERR_BLOB_CORRUPT" ? "corrupt-at-source" : "target-refused";
}

function fail(report: BlobMigrateReport, b: ListedBlob, reason: MigrateFailure, err: unknown): void {
  report.failed.push({
    sha256: b.sha256,
    size: b.size,
    reason,
    code: isKensaError(err) ? err.code : "Error",
    message: (err as Error).message,
  });
}

async function readState(file: string): Promise<MigrateState | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as MigrateState;
  } catch {
    return null;
  }
}

/** written whole then renamed, so a crash mid-write keeps the previous state */
async function writeState(file: string, state: MigrateState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}
