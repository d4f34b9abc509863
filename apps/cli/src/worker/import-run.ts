import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { isKensaError, sha256Hex, type WorkerImportJob, type WorkerImportReply, workerRoutes } from "@kensa/contracts";
import type { prepareImport } from "@kensa/hub";
import { downloadBlobs, type HeldJobEnd, postWithRetry, runHeldJob } from "./job-blobs.js";

/** ms between progress reports (which renew the lease too) */
const PROGRESS_MS = 1000;

export interface ImportRunDeps {
  client: KensaClient;
  /** the hub's prepare half of an import (@kensa/hub prepareImport): the worker decodes and checks as the hub would */
  prepare: typeof prepareImport;
  /** the hub's importer of a format (@kensa/hub defaultFormats().importer) */
  importer: (format: WorkerImportJob["options"]["format"]) => Parameters<typeof prepareImport>[0]["importer"];
  workerId: string;
  /** the job's own folder (the downloaded archive); removed afterwards */
  dir: string;
  say: (line: string) => void;
}

/** How an import job ended on this worker. */
export type ImportOutcome =
  | { kind: "stored"; reply: WorkerImportReply; items: number; failed: number; error: { code: string } | null }
  | HeldJobEnd;

/**
 * Runs one claimed import: downloads the archive (checked against its sha256), runs the hub's
 * prepare code on it (list, plan, decode, check, rasterize masks) while reporting progress,
 * uploads each image and mask blob of a good item (the hub refuses one that does not hash to
 * its name), and posts the prepared rows once; the hub commits them in one transaction.
 */
export async function runImportJob(d: ImportRunDeps, job: WorkerImportJob, stop: AbortSignal): Promise<ImportOutcome> {
  const attempt = { workerId: d.workerId, attempt: job.attempt };
  return runHeldJob(d, job, stop, async (signal, dir): Promise<ImportOutcome> => {
    await downloadBlobs(d, job, dir, [job.archive], signal);
    const progress = { done: 0, total: 0 };
    const report = setInterval(() => {
      d.client
        .call(workerRoutes.importProgress, { params: { id: job.jobId }, body: { ...attempt, ...progress } })
        .catch(() => undefined);
    }, PROGRESS_MS);
    const uploaded = new Set<string>();
    const putBlob = async (bytes: Uint8Array) => {
      const sha256 = sha256Hex(bytes);
      if (uploaded.has(sha256)) return;
      await d.client.call(workerRoutes.upload, {
        params: { id: job.jobId, sha256 },
        query: attempt,
        upload: bytes,
        contentType: "application/octet-stream",
        signal,
      });
      uploaded.add(sha256);
    };
    let prepared: Awaited<ReturnType<typeof prepareImport>> | null = null;
    let error: { code: string; message: string } | null = null;
    // the hub's limits, not this process's defaults: an item fails here exactly as it would on the hub
    const { imagePixels, ...archiveLimits } = job.limits;
    try {
      prepared = await d.prepare({
        archivePath: join(dir, job.archive.sha256),
        archiveLimits,
        imagePixels,
        project: job.project,
        importer: d.importer(job.options.format),
        options: job.options,
        progress,
        putBlob,
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      // the archive cannot be read (not an archive, too large): the hub stores why, as it would locally
      error = datasetJobError(err);
      if (!error) throw err;
    } finally {
      clearInterval(report);
    }
    // an unlabeled item leaves its content out
    const items = prepared?.items.map(({ content, ...item }) => (content ? { ...item, content } : item));
    const body = { ...attempt, ...(prepared && items ? { prepared: { ...prepared, items } } : {}), error };
    const reply = await postWithRetry(d, `the import of ${job.jobId}`, () =>
      d.client.call(workerRoutes.importResult, { params: { id: job.jobId }, body }),
    );
    return { kind: "stored", reply, items: prepared?.items.length ?? 0, failed: prepared?.failed.length ?? 0, error };
  });
}

/**
 * A failure of the dataset work itself (a coded error of the hub's import or export code, as the
 * hub stores it for a local job); null for anything else (a failed upload, a bug), which gives
 * the job back instead.
 */
export function datasetJobError(err: unknown): { code: string; message: string } | null {
  return isKensaError(err) ? { code: err.code, message: err.message } : null;
}
