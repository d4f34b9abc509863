import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot, waitFor } from "@kensa/testkit";

/**
 * A contract trainer that reads every input, reports a step every 200 ms for `secs`, then
 * "trains" by copying a real ONNX model and its manifest; SIGTERM ends it at once.
 */
export const STEADY_TRAINER = `
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
const [secs, onnx, manifest, jobPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
for (const s of job.samples) readFileSync(s.path);
mkdirSync(job.outputDir, { recursive: true });
const t0 = Date.now();
const say = (o) => process.stdout.write(JSON.stringify({ ...o, elapsedSec: (Date.now() - t0) / 1000 }) + "\\n");
const total = Math.max(1, Math.round(Number(secs) * 5));
say({ type: "start", jobId: job.jobId, task: job.task, epochs: 1, stepsPerEpoch: total, totalSteps: total,
  samples: { train: 1, val: 1, test: 0 }, threads: 1, trainer: "steady/1" });
process.on("SIGTERM", () => process.exit(143));
let step = 0;
const timer = setInterval(() => {
  step++;
  say({ type: "step", epoch: 1, step, totalSteps: total, loss: 1 / step, etaSec: (total - step) / 5 });
  if (step < total) return;
  clearInterval(timer);
  copyFileSync(onnx, join(job.outputDir, "model.onnx"));
  copyFileSync(manifest, join(job.outputDir, "manifest.json"));
  say({ type: "done", bestEpoch: 1, epochsRun: 1, stoppedEarly: false, primaryMetric: "accuracy", val: 0.8,
    test: null, outputs: ["model.onnx", "manifest.json"] });
  process.exit(0);
}, 200);
`;

const main = join(repoRoot, "apps/cli/src/main.ts");
const tsx = pathToFileURL(createRequire(main).resolve("tsx")).href;

/** A real `kensa worker` child process, in its own process group (a SIGKILL takes its trainer too, as a crash would). */
export class WorkerProcess {
  readonly child: ChildProcess;
  out = "";
  readonly exited: Promise<number | null>;

  /** `env` adds to the test's environment (NODE_OPTIONS, say) */
  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ["--import", tsx, main, "worker", ...args], {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KENSA_HUB_URL: "", KENSA_WORKER_TOKEN: "", ...env },
    });
    this.child.stdout!.on("data", (b) => (this.out += String(b)));
    this.child.stderr!.on("data", (b) => (this.out += String(b)));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** the id it announced */
  async id(): Promise<string> {
    return waitFor("the worker to announce itself", async () => /worker (\S+):/.exec(this.out)?.[1] ?? null, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
  }

  kill(signal: NodeJS.Signals): void {
    try {
      process.kill(signal === "SIGKILL" ? -this.child.pid! : this.child.pid!, signal);
    } catch {
      // already gone
    }
  }
}
