import type { KensaClient } from "@kensa/client";
import {
  type WorkerEvaluationJob,
  type WorkerEvaluationMetrics,
  type WorkerEvaluationReply,
  workerRoutes,
} from "@kensa/contracts";
import type { EvaluationInput } from "@kensa/hub";
import { blobReader, downloadBlobs, type HeldJobEnd, postWithRetry, runHeldJob } from "./job-blobs.js";

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
  | HeldJobEnd;

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
  const attempt = { workerId: d.workerId, attempt: job.attempt };
  // stopping or losing the lease aborts downloads and the evaluation alike
  return runHeldJob(d, job, stop, async (signal, dir): Promise<EvaluationOutcome> => {
    await downloadBlobs(d, job, dir, [job.model, ...(job.int8 ? [job.int8] : []), ...job.files], signal);
    const blobs = blobReader(dir);
    const read = async (sha256: string) => {
      const bytes = await blobs.get(sha256);
      if (!bytes) throw new Error(`blob ${sha256} was not downloaded`);
      return bytes;
    };
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
        blobs,
        threads: d.threads,
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      // the model cannot be scored (a corrupt image, no scorable label): the hub stores why, as it would locally
      error = d.evaluationError(err);
    }
    const body = { ...attempt, metrics, error };
    const reply = await postWithRetry(d, `the evaluation of ${job.jobId}`, () =>
      d.client.call(workerRoutes.evaluation, { params: { id: job.jobId }, body }),
    );
    return { kind: "stored", reply, error };
  });
}
