import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ApiError, type KensaClient } from "@kensa/client";
import {
  type WorkerBlob,
  type WorkerEvaluationJob,
  type WorkerEvaluationMetrics,
  type WorkerEvaluationReply,
  type WorkerEvaluationResult,
  workerRoutes,
} from "@kensa/contracts";
import type { EvaluationInput } from "@kensa/hub";

/** blobs fetched at once */
const DOWNLOADS = 4;
const SHA256 = /^[a-f0-9]{64}$/;

export interface EvaluationRunDeps {
  client: KensaClient;
  /** the hub's evaluation code (@kensa/hub evaluateModel): the worker scores exactly as the hub would */
  evaluate: (input: EvaluationInput) => Promise<WorkerEvaluationMetrics>;
  /** a thrown error as the hub stores it (a coded error as is, else KENSA_ERR_EVALUATION_FAILED) */
  evaluationError: (err: unknown) => { code: string; message: string };
  workerId: string;
  /** the job's own folder (downloaded blobs); removed afterwards */
  dir: string;
  /** ONNX Runtime threads; the hub's own evaluations use 1, so latencies compare */
  threads: number;
  say: (line: string) => void;
}

/** How an evaluate job ended on this worker. */
export type EvaluationOutcome =
  | { kind: "stored"; reply: WorkerEvaluationReply; error: { code: string } | null }
  /** stopped (SIGTERM) and given back to the queue */
  | { kind: "released" }
  /** the hub took the job away (the lease ran out); nothing more was reported */
  | { kind: "lost" };

/**
 * Runs one claimed evaluate job: downloads the model and every test image and mask (streamed to
 * disk, each checked against its sha256), scores them with the hub's evaluation code, renews the
 * lease meanwhile, and posts the metrics (or why the model could not be scored) once.
 */
export async function runEvaluation(
  d: EvaluationRunDeps,
  job: WorkerEvaluationJob,
  stop: AbortSignal,
): Promise<EvaluationOutcome> {
  const { client, workerId } = d;
  const attempt = { workerId, attempt: job.attempt };
  const isLost = (err: unknown) => err instanceof ApiError && err.code === "KENSA_ERR_WORKER_LEASE_LOST";
  // stopping or losing the lease aborts downloads and the evaluation alike
  const work = new AbortController();
  let lost = false;
  const onStop = () => work.abort("stop");
  stop.addEventListener("abort", onStop, { once: true });
  const renewal = setInterval(
    () => {
      client.call(workerRoutes.renew, { params: { id: job.jobId }, body: attempt }).catch((err: unknown) => {
        if (isLost(err)) {
          lost = true;
          work.abort("lost");
        } else d.say(`renewing the lease of ${job.jobId} failed: ${(err as Error).message}`);
      });
    },
    Math.max(100, Math.floor(job.leaseMs / 3)),
  );
  const release = async (): Promise<EvaluationOutcome> => {
    await client.call(workerRoutes.release, { params: { id: job.jobId }, body: attempt });
    return { kind: "released" };
  };
  try {
    await rm(d.dir, { recursive: true, force: true });
    await mkdir(join(d.dir, "blobs"), { recursive: true });
    await download(d, job, [job.model, ...(job.int8 ? [job.int8] : []), ...job.files], work.signal);
    const read = (sha256: string) => readFile(join(d.dir, "blobs", sha256)).then((b) => new Uint8Array(b));
    let metrics: WorkerEvaluationMetrics | null = null;
    let error: { code: string; message: string } | null = null;
    try {
      metrics = await d.evaluate({
        manifest: job.manifest,
        model: await read(job.model.sha256),
        int8: job.int8 ? await read(job.int8.sha256) : null,
        items: job.items,
        okLabels: job.okLabels,
        snapshotId: job.snapshotId,
        // only what the job listed was downloaded: anything else is missing, as in the hub's store
        blobs: { get: (sha256) => (SHA256.test(sha256) ? read(sha256).catch(() => null) : Promise.resolve(null)) },
        threads: d.threads,
        signal: work.signal,
      });
    } catch (err) {
      if (work.signal.aborted) throw err;
      // the model cannot be scored (a corrupt image, no scorable label): the hub stores why, as it would locally
      error = d.evaluationError(err);
    }
    const reply = await postWithRetry(d, job, { ...attempt, metrics, error });
    return { kind: "stored", reply, error };
  } catch (err) {
    if (lost || isLost(err)) return { kind: "lost" };
    if (stop.aborted) return await release().catch(() => ({ kind: "lost" }) as const);
    // a download or the post failed on the way: give the job back for another try
    if (!(err instanceof ApiError && err.status >= 400 && err.status < 500)) await release().catch(() => undefined);
    throw err;
  } finally {
    clearInterval(renewal);
    stop.removeEventListener("abort", onStop);
    await rm(d.dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** A result whose answer was lost on the way is posted again: the hub answers a repeat as stored, storing nothing. */
async function postWithRetry(
  d: EvaluationRunDeps,
  job: WorkerEvaluationJob,
  body: WorkerEvaluationResult,
): Promise<WorkerEvaluationReply> {
  for (let i = 0; ; i++) {
    try {
      return await d.client.call(workerRoutes.evaluation, {
        params: { id: job.jobId },
        body,
      });
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "KENSA_ERR_NETWORK" || i >= 5) throw err;
      d.say(`posting the evaluation of ${job.jobId} failed (${err.message}); trying again`);
      await new Promise((r) => setTimeout(r, 1000 * 2 ** i));
    }
  }
}

/** Streams each blob to disk (presigned URL when the hub gave one), hashing as it goes; a mismatch keeps nothing. */
async function download(
  d: EvaluationRunDeps,
  job: WorkerEvaluationJob,
  blobs: readonly WorkerBlob[],
  signal: AbortSignal,
): Promise<void> {
  const queue = [...new Map(blobs.map((b) => [b.sha256, b])).values()];
  const one = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      signal.throwIfAborted();
      let res: Response;
      if (b.url) {
        res = await fetch(b.url, { signal });
        if (!res.ok) throw new Error(`fetching blob ${b.sha256} from storage: HTTP ${res.status}`);
      } else {
        res = await d.client.fetch(workerRoutes.blob, {
          params: { id: job.jobId, sha256: b.sha256 },
          query: { workerId: d.workerId, attempt: job.attempt },
          signal,
        });
      }
      if (!res.body) throw new Error(`blob ${b.sha256} came without a body`);
      const path = join(d.dir, "blobs", b.sha256);
      const hash = createHash("sha256");
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(
        Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
        hashing,
        createWriteStream(`${path}.part`),
        { signal },
      );
      if (hash.digest("hex") !== b.sha256) {
        await rm(`${path}.part`, { force: true });
        throw new Error(`blob ${b.sha256} does not match its sha256`);
      }
      await rename(`${path}.part`, path);
    }
  };
  await Promise.all(Array.from({ length: DOWNLOADS }, one));
}
