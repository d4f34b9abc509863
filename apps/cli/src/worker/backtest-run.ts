import type { KensaClient } from "@kensa/client";
import {
  type BacktestFrame,
  type BacktestReport,
  compile,
  KensaError,
  Rule,
  type WorkerBacktestJob,
  type WorkerBacktestReply,
  workerRoutes,
} from "@kensa/contracts";
import type { backtestReport, FrameReader, replayFrames } from "@kensa/hub";
import { blobReader, downloadBlobs, type HeldJobEnd, postWithRetry, runHeldJob } from "./job-blobs.js";

const checkRule = compile(Rule);

export interface BacktestRunDeps {
  client: KensaClient;
  /** the hub's replay code (@kensa/hub replayFrames): the worker decides each frame as the hub would */
  replay: typeof replayFrames;
  /** the hub's report of a replay (@kensa/hub backtestReport) */
  report: typeof backtestReport;
  /** a thrown error as the hub stores it (a coded error as is, else KENSA_ERR_BACKTEST_FAILED) */
  backtestError: (err: unknown) => { code: string; message: string };
  workerId: string;
  /** the job's own folder (downloaded blobs); removed afterwards */
  dir: string;
  say: (line: string) => void;
}

/** How a backtest job ended on this worker. */
export type BacktestOutcome =
  | { kind: "stored"; reply: WorkerBacktestReply; error: { code: string } | null; missing: number }
  | HeldJobEnd;

/**
 * Runs one claimed backtest job: downloads the candidate's model and every frame (streamed to
 * disk, each checked against its sha256; a frame the hub no longer has is replayed as missing,
 * as on the hub), replays them with the hub's replay code and rules, renews the lease meanwhile,
 * and posts the report (or why the backtest could not run) once.
 */
export async function runBacktest(
  d: BacktestRunDeps,
  job: WorkerBacktestJob,
  stop: AbortSignal,
): Promise<BacktestOutcome> {
  const attempt = { workerId: d.workerId, attempt: job.attempt };
  // stopping or losing the lease aborts downloads and the replay alike
  return runHeldJob(d, job, stop, async (signal, dir): Promise<BacktestOutcome> => {
    const frames = new Set(job.files.map((f) => f.sha256));
    frames.delete(job.model.sha256);
    const { missing } = await downloadBlobs(d, job, dir, [job.model, ...job.files], signal, frames);
    const blobs: FrameReader = blobReader(dir);
    let result: { report: BacktestReport; frames: BacktestFrame[] } | null = null;
    let error: { code: string; message: string } | null = null;
    try {
      if (!job.rules.every((r) => checkRule.check(r))) {
        throw new KensaError("KENSA_ERR_VALIDATION", "the backtest's rules are not rules of a bundle");
      }
      const rules = job.rules as Rule[];
      const model = await blobs.get(job.model.sha256);
      if (!model) throw new Error(`the model ${job.model.sha256} was not downloaded`);
      const replay = await d.replay({
        model,
        manifest: job.manifest,
        rules,
        frames: job.frames,
        // only the job's frames were downloaded: one the hub lacked is missing here too
        blobs,
        signal,
      });
      const report = d.report({
        bounds: job.bounds,
        rules: job.rules,
        projectChampionId: job.projectChampionId,
        replay,
      });
      result = { report, frames: replay.frames };
    } catch (err) {
      if (signal.aborted) throw err;
      // the candidate cannot run (a model ONNX Runtime refuses): the hub stores why, as it would locally
      error = d.backtestError(err);
    }
    const body = { ...attempt, report: result?.report ?? null, frames: result?.frames ?? [], error };
    const reply = await postWithRetry(d, `the backtest of ${job.jobId}`, () =>
      d.client.call(workerRoutes.backtest, { params: { id: job.jobId }, body }),
    );
    return { kind: "stored", reply, error, missing: missing.length };
  });
}
