import { createHash } from "node:crypto";
import { access, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError, type KensaClient } from "@kensa/client";
import { type TrainerProgress, trainerOutputs, type WorkerJob, workerRoutes } from "@kensa/contracts";
import type { TrainerExit, TrainerRegistry } from "@kensa/hub";

/** ms between batches of log lines sent to the hub */
const FLUSH_MS = 500;
/** input files fetched at once */
const DOWNLOADS = 4;

export interface JobRunDeps {
  client: KensaClient;
  trainers: TrainerRegistry;
  trainerFailure: (
    exit: TrainerExit,
    errorLine: { code: string; message: string } | null,
    stderrTail: readonly string[],
  ) => { code: string; message: string };
  workerId: string;
  /** the job's own folder (inputs, job.json, outputs); removed afterwards */
  dir: string;
  say: (line: string) => void;
}

/** How a job ended on this worker. */
export type JobOutcome =
  | { kind: "completed"; modelVersionId: string | null; duplicate: boolean; error: { code: string } | null }
  | { kind: "failed"; code: string }
  /** stopped (SIGTERM) and given back to the queue */
  | { kind: "released" }
  /** the hub took the job away (the lease ran out); nothing more was reported */
  | { kind: "lost" };

/**
 * Runs one claimed job: fetches its inputs, runs the trainer on the spec exactly as the hub
 * would locally (the same trainer adapter), sends its output lines as they come, renews the
 * lease, and reports the outcome — outputs uploaded, then one completion the hub makes idempotent.
 */
export async function runJob(d: JobRunDeps, job: WorkerJob, stop: AbortSignal): Promise<JobOutcome> {
  const { client, workerId } = d;
  const id = { params: { id: job.jobId } };
  const attempt = { workerId, attempt: job.attempt };
  let lost = false;
  let cancelled = false;
  const isLost = (err: unknown) => err instanceof ApiError && err.code === "KENSA_ERR_WORKER_LEASE_LOST";
  /** the hub took the job back, or a person cancelled the run: stop the trainer either way */
  const stopFor = (err: unknown) => {
    if (isLost(err)) lost = true;
    else if (err instanceof ApiError && err.code === "KENSA_ERR_TRAINER_CANCELLED") cancelled = true;
    else return false;
    proc?.terminate();
    return true;
  };

  // the lease is renewed from the claim on, downloads included
  const renewal = setInterval(
    () => {
      client.call(workerRoutes.renew, { ...id, body: attempt }).catch((err: unknown) => {
        if (!stopFor(err)) d.say(`renewing the lease of ${job.jobId} failed: ${(err as Error).message}`);
      });
    },
    Math.max(100, Math.floor(job.leaseMs / 3)),
  );
  let proc: Awaited<ReturnType<ReturnType<TrainerRegistry["get"]>["start"]>> | null = null;
  const pending: Array<{ stream: "stdout" | "stderr" | "worker"; text: string }> = [];
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    flushing = flushing.then(async () => {
      if (pending.length === 0 || lost || cancelled) return;
      const lines = pending.splice(0, 5000);
      try {
        await client.call(workerRoutes.progress, { ...id, body: { ...attempt, lines } });
      } catch (err) {
        if (!stopFor(err)) pending.unshift(...lines); // sent again with the next batch
      }
    });
    return flushing;
  };
  const flusher = setInterval(() => void flush(), FLUSH_MS);
  try {
    await rm(d.dir, { recursive: true, force: true });
    await mkdir(join(d.dir, "data"), { recursive: true });
    await download(d, job, stop);
    const spec = {
      ...job.spec,
      outputDir: join(d.dir, "out"),
      samples: job.spec.samples.map((s) => ({
        ...s,
        path: join(d.dir, s.path),
        ...(s.maskPath ? { maskPath: join(d.dir, s.maskPath) } : {}),
      })),
      ...(job.spec.reference
        ? {
            reference: {
              ...job.spec.reference,
              images: Object.fromEntries(
                Object.entries(job.spec.reference.images).map(([key, path]) => [key, join(d.dir, path)]),
              ),
            },
          }
        : {}),
    };
    const jobPath = join(d.dir, "job.json");
    await writeFile(jobPath, JSON.stringify(spec, null, 2));
    if (stop.aborted) return await release(d, job);

    let errorLine: { code: string; message: string } | null = null;
    const stderrTail: string[] = [];
    proc = await d.trainers.get(job.trainer).start(jobPath, {
      text: (stream, text) => {
        pending.push({ stream, text });
        if (stream === "stderr") {
          stderrTail.push(text);
          if (stderrTail.length > 20) stderrTail.shift();
        }
      },
      line: (l: TrainerProgress) => {
        if (l.type === "error") errorLine = { code: l.code, message: l.message };
      },
    });
    const started = proc;
    const onStop = () => started.terminate();
    stop.addEventListener("abort", onStop, { once: true });
    let exit: TrainerExit;
    try {
      exit = await started.exited;
    } finally {
      stop.removeEventListener("abort", onStop);
    }
    await flush();
    if (lost) return { kind: "lost" };
    if (cancelled) {
      const error = { code: "KENSA_ERR_TRAINER_CANCELLED", message: "cancelled; the trainer was stopped (SIGTERM)" };
      await client.call(workerRoutes.fail, { ...id, body: { ...attempt, error, exitCode: exit.code } });
      return { kind: "failed", code: error.code };
    }
    if (stop.aborted) return await release(d, job);
    if (exit.code !== 0) {
      const error = d.trainerFailure(exit, errorLine, stderrTail);
      await client.call(workerRoutes.fail, { ...id, body: { ...attempt, error, exitCode: exit.code } });
      return { kind: "failed", code: error.code };
    }
    const outputs: Record<string, string> = {};
    // what the hub registers from (curves and the trainer's own log stay here, as they do in a local run)
    const names = [trainerOutputs.model, trainerOutputs.modelInt8, trainerOutputs.manifest, trainerOutputs.metrics];
    for (const name of names) {
      const path = join(d.dir, "out", name);
      if (!(await exists(path))) continue;
      const up = await client.call(workerRoutes.output, {
        params: { id: job.jobId, name },
        query: attempt,
        upload: await readFile(path),
        contentType: "application/octet-stream",
      });
      outputs[name] = up.sha256;
    }
    const done = await completeWithRetry(d, job, outputs);
    return { kind: "completed", modelVersionId: done.modelVersionId, duplicate: done.duplicate, error: done.error };
  } catch (err) {
    if (isLost(err) || lost) return { kind: "lost" };
    if (stop.aborted) return await release(d, job).catch(() => ({ kind: "lost" }) as const);
    // the hub refused what this worker sent (a bug, not bad luck): fail the run, do not loop on it
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
      const error = { code: err.code, message: `the hub refused the worker's report: ${err.message}` };
      await client
        .call(workerRoutes.fail, { ...id, body: { ...attempt, error, exitCode: null } })
        .catch(() => undefined);
      throw err;
    }
    // an input that could not be fetched, an upload that failed on the way: give the job back for another try
    await release(d, job).catch(() => undefined);
    throw err;
  } finally {
    clearInterval(renewal);
    clearInterval(flusher);
    await flushing;
    await rm(d.dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * A completion whose answer was lost on the way is sent again: the hub answers a repeat with
 * the version the first one registered (duplicate: true), never a second version.
 */
async function completeWithRetry(d: JobRunDeps, job: WorkerJob, outputs: Record<string, string>) {
  for (let i = 0; ; i++) {
    try {
      return await d.client.call(workerRoutes.complete, {
        params: { id: job.jobId },
        body: { workerId: d.workerId, attempt: job.attempt, outputs },
      });
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "KENSA_ERR_NETWORK" || i >= 5) throw err;
      d.say(`completing ${job.jobId} failed (${err.message}); trying again`);
      await new Promise((r) => setTimeout(r, 1000 * 2 ** i));
    }
  }
}

async function release(d: JobRunDeps, job: WorkerJob): Promise<JobOutcome> {
  await d.client.call(workerRoutes.release, {
    params: { id: job.jobId },
    body: { workerId: d.workerId, attempt: job.attempt },
  });
  return { kind: "released" };
}

/** Fetches every input (presigned URL when the hub gave one), checking stored blobs' sha256. */
async function download(d: JobRunDeps, job: WorkerJob, stop: AbortSignal): Promise<void> {
  const queue = [...job.files];
  const one = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      stop.throwIfAborted();
      let bytes: Uint8Array;
      if (f.url) {
        const res = await fetch(f.url, { signal: stop });
        if (!res.ok) throw new Error(`fetching ${f.path} from storage: HTTP ${res.status}`);
        bytes = new Uint8Array(await res.arrayBuffer());
      } else {
        bytes = await d.client.call(workerRoutes.file, {
          params: { id: job.jobId, name: f.path.slice("data/".length) },
          query: { workerId: d.workerId, attempt: job.attempt },
          signal: stop,
        });
      }
      if (f.sha256 && createHash("sha256").update(bytes).digest("hex") !== f.sha256) {
        throw new Error(`input ${f.path} does not match its sha256 ${f.sha256}`);
      }
      await writeFile(join(d.dir, f.path), bytes);
    }
  };
  await Promise.all(Array.from({ length: DOWNLOADS }, one));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
