import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ApiError, type KensaClient } from "@kensa/client";
import { type WorkerBlob, workerRoutes } from "@kensa/contracts";

/** blobs fetched at once */
const DOWNLOADS = 4;
const SHA256 = /^[a-f0-9]{64}$/;

/** A claimed evaluate or backtest job, as the blob route and the lease name it. */
export interface HeldJob {
  jobId: string;
  attempt: number;
  leaseMs: number;
}

export interface JobBlobsDeps {
  client: KensaClient;
  workerId: string;
  say: (line: string) => void;
}

/** ApiError of the hub taking the job back */
export const isLeaseLost = (err: unknown) => err instanceof ApiError && err.code === "KENSA_ERR_WORKER_LEASE_LOST";

/** How a held job ended when it did not end with a stored result. */
export type HeldJobEnd =
  /** stopped (SIGTERM) and given back to the queue */
  | { kind: "released" }
  /** the hub took the job away (the lease ran out); nothing more was reported */
  | { kind: "lost" };

/**
 * Runs `work` on a held job in a fresh `dir` (removed afterwards) while its lease is renewed.
 * One signal aborts the work when the worker stops or the lease is lost. A stop gives the job
 * back; a failure on the way (a download, a post the hub did not refuse) gives it back for
 * another try and rethrows; a lost lease ends quietly.
 */
export async function runHeldJob<T>(
  d: JobBlobsDeps & { dir: string },
  job: HeldJob,
  stop: AbortSignal,
  work: (signal: AbortSignal, blobDir: string) => Promise<T>,
): Promise<T | HeldJobEnd> {
  const attempt = { workerId: d.workerId, attempt: job.attempt };
  const aborter = new AbortController();
  let lost = false;
  const onStop = () => aborter.abort("stop");
  stop.addEventListener("abort", onStop, { once: true });
  const renewal = keepLease(d, job, () => {
    lost = true;
    aborter.abort("lost");
  });
  const release = async (): Promise<HeldJobEnd> => {
    await d.client.call(workerRoutes.release, { params: { id: job.jobId }, body: attempt });
    return { kind: "released" };
  };
  try {
    await rm(d.dir, { recursive: true, force: true });
    const dir = join(d.dir, "blobs");
    await mkdir(dir, { recursive: true });
    return await work(aborter.signal, dir);
  } catch (err) {
    if (lost || isLeaseLost(err)) return { kind: "lost" };
    if (stop.aborted) return await release().catch(() => ({ kind: "lost" }) as const);
    if (!(err instanceof ApiError && err.status >= 400 && err.status < 500)) await release().catch(() => undefined);
    throw err;
  } finally {
    renewal.stop();
    stop.removeEventListener("abort", onStop);
    await rm(d.dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Renews the job's lease every third of it until stopped; `onLost` runs once when the hub
 * answers that the job is no longer this worker's.
 */
export function keepLease(d: JobBlobsDeps, job: HeldJob, onLost: () => void): { stop(): void } {
  const body = { workerId: d.workerId, attempt: job.attempt };
  const timer = setInterval(
    () => {
      d.client.call(workerRoutes.renew, { params: { id: job.jobId }, body }).catch((err: unknown) => {
        if (isLeaseLost(err)) onLost();
        else d.say(`renewing the lease of ${job.jobId} failed: ${(err as Error).message}`);
      });
    },
    Math.max(100, Math.floor(job.leaseMs / 3)),
  );
  return { stop: () => clearInterval(timer) };
}

/**
 * Streams each blob into `dir` (presigned URL when the hub gave one, else the job's blob route),
 * hashing as it goes; a mismatch keeps nothing and throws. Blobs in `mayBeMissing` that the hub
 * answers 404 for are left out (the caller's reader then finds them missing); any other
 * failure throws.
 */
export async function downloadBlobs(
  d: JobBlobsDeps,
  job: HeldJob,
  dir: string,
  blobs: readonly WorkerBlob[],
  signal: AbortSignal,
  mayBeMissing: ReadonlySet<string> = new Set(),
): Promise<{ missing: string[] }> {
  const queue = [...new Map(blobs.map((b) => [b.sha256, b])).values()];
  const missing: string[] = [];
  const one = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      signal.throwIfAborted();
      let res: Response;
      try {
        if (b.url) {
          res = await fetch(b.url, { signal });
          if (!res.ok) {
            throw new ApiError(`HTTP_${res.status}`, `fetching blob ${b.sha256}: HTTP ${res.status}`, res.status);
          }
        } else {
          res = await d.client.fetch(workerRoutes.blob, {
            params: { id: job.jobId, sha256: b.sha256 },
            query: { workerId: d.workerId, attempt: job.attempt },
            signal,
          });
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && mayBeMissing.has(b.sha256)) {
          missing.push(b.sha256);
          continue;
        }
        throw err;
      }
      if (!res.body) throw new Error(`blob ${b.sha256} came without a body`);
      const path = join(dir, b.sha256);
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
  return { missing };
}

/** Reads downloaded blobs by sha256; one that was not downloaded is missing (null), as in the hub's store. */
export function blobReader(dir: string): { get(sha256: string): Promise<Uint8Array | null> } {
  return {
    get: (sha256) =>
      SHA256.test(sha256)
        ? readFile(join(dir, sha256)).then(
            (b) => new Uint8Array(b),
            () => null,
          )
        : Promise.resolve(null),
  };
}

/** A result whose answer was lost on the way is posted again: the hub answers a repeat as stored, storing nothing. */
export async function postWithRetry<T>(d: JobBlobsDeps, what: string, post: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await post();
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "KENSA_ERR_NETWORK" || i >= 5) throw err;
      d.say(`posting ${what} failed (${err.message}); trying again`);
      await new Promise((r) => setTimeout(r, 1000 * 2 ** i));
    }
  }
}
