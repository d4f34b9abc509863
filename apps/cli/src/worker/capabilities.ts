import { execFile } from "node:child_process";
import { availableParallelism, totalmem } from "node:os";
import type { WorkerCapabilities, WorkerJobKind } from "@kensa/contracts";

/** The kensa version a worker reports (trainer versions are reported per run by the trainer itself). */
export const WORKER_VERSION = "kensa-worker/0.1.0";

/**
 * What this machine offers. CUDA is "auto" unless told: an NVIDIA driver answering
 * `nvidia-smi -L` counts as CUDA; a worker whose trainer cannot use it should say `--cuda no`.
 */
export async function detectCapabilities(o: {
  cuda: "auto" | "yes" | "no";
  trainers: readonly string[];
  /** the kinds of job to claim */
  jobs: readonly WorkerJobKind[];
}): Promise<WorkerCapabilities> {
  const cuda = o.cuda === "auto" ? await hasNvidiaGpu() : o.cuda === "yes";
  return {
    cpuCores: Math.max(1, availableParallelism()),
    memoryMb: Math.max(1, Math.floor(totalmem() / 1024 / 1024)),
    cuda,
    trainers: [...o.trainers],
    version: WORKER_VERSION,
    jobs: [...o.jobs],
  };
}

function hasNvidiaGpu(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile("nvidia-smi", ["-L"], { timeout: 5000 }, (err, stdout) => resolve(!err && /GPU \d+/.test(String(stdout))));
  });
}
