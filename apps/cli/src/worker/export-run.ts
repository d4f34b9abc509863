import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { KensaClient } from "@kensa/client";
import { type WorkerExportJob, type WorkerExportReply, workerRoutes } from "@kensa/contracts";
import type { buildExport } from "@kensa/hub";
import { datasetJobError } from "./import-run.js";
import { blobReader, downloadBlobs, type HeldJobEnd, postWithRetry, runHeldJob } from "./job-blobs.js";

export interface ExportRunDeps {
  client: KensaClient;
  /** the hub's archive builder (@kensa/hub buildExport, with its formats bound): the same bytes as the hub's */
  build: (
    plan: Parameters<typeof buildExport>[0],
    readBlob: Parameters<typeof buildExport>[2],
  ) => AsyncIterable<Buffer>;
  workerId: string;
  /** the job's own folder (downloaded blobs, the archive); removed afterwards */
  dir: string;
  say: (line: string) => void;
}

/** How an export job ended on this worker. */
export type ExportOutcome =
  | { kind: "stored"; reply: WorkerExportReply; bytes: number; error: { code: string } | null }
  | HeldJobEnd;

/**
 * Runs one claimed export: downloads every image and mask it names (each checked against its
 * sha256), builds the archive with the hub's export code into a file while hashing it, uploads
 * it (the hub refuses it unless it hashes to its name) and posts its sha256 and size once.
 */
export async function runExportJob(d: ExportRunDeps, job: WorkerExportJob, stop: AbortSignal): Promise<ExportOutcome> {
  const attempt = { workerId: d.workerId, attempt: job.attempt };
  return runHeldJob(d, job, stop, async (signal, dir): Promise<ExportOutcome> => {
    await downloadBlobs(d, job, dir, job.files, signal);
    const blobs = blobReader(dir);
    const path = join(d.dir, "archive");
    const hash = createHash("sha256");
    let error: { code: string; message: string } | null = null;
    try {
      const plan = {
        format: job.query.format,
        archive: job.query.archive ?? "zip",
        labels: job.labels,
        okLabels: job.okLabels,
        meta: job.meta,
        items: job.items,
      };
      const built = d.build(plan, (sha) => blobs.get(sha));
      await pipeline(
        Readable.from(built),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(path),
        { signal },
      );
    } catch (err) {
      if (signal.aborted) throw err;
      error = datasetJobError(err);
      if (!error) throw err;
    }
    let archive: { sha256: string; size: number } | null = null;
    if (!error) {
      const sha256 = hash.digest("hex");
      const { size } = await stat(path);
      await d.client.call(workerRoutes.upload, {
        params: { id: job.jobId, sha256 },
        query: attempt,
        upload: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
        contentType: "application/octet-stream",
        signal,
      });
      archive = { sha256, size };
    }
    const body = { ...attempt, archive, error };
    const reply = await postWithRetry(d, `the export of ${job.jobId}`, () =>
      d.client.call(workerRoutes.exportResult, { params: { id: job.jobId }, body }),
    );
    return { kind: "stored", reply, bytes: archive?.size ?? 0, error };
  });
}
