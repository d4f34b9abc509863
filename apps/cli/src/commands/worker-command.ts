import { resolve } from "node:path";
import { KensaClient } from "@kensa/client";
import { KensaError, type WorkerJobKind } from "@kensa/contracts";
import type { Command } from "commander";
import { intFlag } from "../cli-input.js";
import type { RemoteWorkerOptions } from "../worker/remote-worker.js";

const JOB_KINDS = ["train", "evaluate", "backtest", "import", "export"] as const satisfies readonly WorkerJobKind[];

interface WorkerFlags {
  hub?: string;
  token?: string;
  dataDir: string;
  cuda: "auto" | "yes" | "no";
  python?: string;
  trainerDir?: string;
  trainers?: string;
  killGrace: number;
  maxJobs?: number;
  jobs: string;
}

/**
 * `kensa worker --hub <url> --token <worker token>`: trains the hub's queued runs, evaluates
 * its model versions and replays its backtests on this machine (docs/training.md, "Workers"). `kensa worker token` makes a token for the hub's config.
 */
/** the hub's dataset import and export code, for import and export jobs */
function datasetWork(hub: typeof import("@kensa/hub")): RemoteWorkerOptions["datasets"] {
  const formats = hub.defaultFormats();
  return {
    prepare: hub.prepareImport,
    importer: (format) => formats.importer(format),
    build: (plan, readBlob) => hub.buildExport(plan, formats, readBlob),
  };
}

export function registerWorkerCommand(program: Command): void {
  const worker = program
    .command("worker")
    .description(
      "train the hub's queued runs, evaluate its models and run its backtests on this machine (claims jobs with a worker token)",
    )
    .option("--hub <url>", "the hub's address (else KENSA_HUB_URL)")
    .option("--token <token>", "the worker token (else KENSA_WORKER_TOKEN)")
    .option("--data-dir <dir>", "where jobs' inputs and outputs live while they run", ".kensa/worker")
    .option("--cuda <auto|yes|no>", "whether this machine offers CUDA (auto: an NVIDIA GPU answers nvidia-smi)", "auto")
    .option("--python <path>", "Python of the built-in trainer (else KENSA_PYTHON, else python3)")
    .option("--trainer-dir <dir>", "the built-in trainer's folder (trainers/torch of this checkout when omitted)")
    .option("--trainers <json>", 'further trainers, as the hub\'s training.trainers: {"name":{"command":[…]}}')
    .option(
      "--kill-grace <ms>",
      "ms a stopped trainer gets between SIGTERM and SIGKILL",
      intFlag("--kill-grace", 0),
      10_000,
    )
    .option("--max-jobs <n>", "exit after this many jobs", intFlag("--max-jobs"))
    .option(
      "--jobs <kinds>",
      "the kinds of job to claim, comma-separated: train, evaluate, backtest, import, export",
      JOB_KINDS.join(","),
    )
    .action(async () => {
      const o = worker.opts<WorkerFlags>();
      const hubUrl = o.hub || process.env.KENSA_HUB_URL;
      const token = o.token || process.env.KENSA_WORKER_TOKEN;
      if (!hubUrl) throw new KensaError("KENSA_ERR_CONFIG_INVALID", "pass --hub <url> (or set KENSA_HUB_URL)");
      if (!token) {
        throw new KensaError(
          "KENSA_ERR_WORKER_TOKEN_INVALID",
          "pass --token <worker token> (or set KENSA_WORKER_TOKEN)",
        );
      }
      if (!["auto", "yes", "no"].includes(o.cuda)) {
        throw new KensaError("KENSA_ERR_CONFIG_INVALID", `--cuda takes auto, yes or no, not "${o.cuda}"`);
      }
      const jobs = [...new Set(o.jobs.split(",").map((k) => k.trim()))];
      const kinds = jobs.filter((k): k is WorkerJobKind => (JOB_KINDS as readonly string[]).includes(k));
      if (kinds.length === 0 || kinds.length !== jobs.length) {
        throw new KensaError(
          "KENSA_ERR_CONFIG_INVALID",
          `--jobs takes one or more of ${JOB_KINDS.join(", ")}, not "${o.jobs}"`,
        );
      }
      const hub = await import("@kensa/hub");
      const { parseHubConfig, TrainerRegistry, trainerFailure, evaluateModel, evaluationError } = hub;
      let trainers: unknown = {};
      if (o.trainers) {
        try {
          trainers = JSON.parse(o.trainers);
        } catch {
          throw new KensaError("KENSA_ERR_CONFIG_INVALID", "--trainers is not JSON");
        }
      }
      // the worker's trainers are configured as the hub's are, and run by the same adapter
      const training = parseHubConfig({
        training: {
          trainers,
          killGraceMs: o.killGrace,
          ...(o.python ? { python: o.python } : {}),
          ...(o.trainerDir ? { trainerDir: resolve(o.trainerDir) } : {}),
        },
      }).training;
      const registry = new TrainerRegistry(training);
      const { detectCapabilities } = await import("../worker/capabilities.js");
      const { RemoteWorker } = await import("../worker/remote-worker.js");
      const capabilities = await detectCapabilities({ cuda: o.cuda, trainers: registry.names(), jobs: kinds });
      const w = new RemoteWorker({
        client: new KensaClient({ baseUrl: hubUrl, auth: { kind: "bearer", token } }),
        trainers: registry,
        trainerFailure,
        evaluate: evaluateModel,
        evaluationError,
        backtest: { replay: hub.replayFrames, report: hub.backtestReport, backtestError: hub.backtestError },
        datasets: datasetWork(hub),
        capabilities,
        dataDir: resolve(o.dataDir),
        say: (line) => console.log(`${new Date().toISOString()} ${line}`),
        ...(o.maxJobs !== undefined ? { maxJobs: o.maxJobs } : {}),
      });
      const onSignal = (signal: string) => {
        console.log(`${new Date().toISOString()} ${signal}: stopping; a running job is given back to the hub`);
        w.stop();
      };
      process.once("SIGTERM", () => onSignal("SIGTERM"));
      process.once("SIGINT", () => onSignal("SIGINT"));
      const ran = await w.run();
      console.log(`${new Date().toISOString()} worker stopped after ${ran} job(s)`);
    });

  worker
    .command("token")
    .description("make a new worker token and print the line for the hub's training.remote.tokens")
    .option("--name <name>", "what the hub records as who trained", "worker")
    .action(async (flags: { name: string }) => {
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(flags.name)) {
        throw new KensaError("KENSA_ERR_CONFIG_INVALID", "--name: lower-case letters, digits, _ and -, at most 64");
      }
      const { newWorkerToken } = await import("@kensa/hub");
      const t = newWorkerToken();
      console.log(`token (give it to the worker; it is not stored anywhere): ${t.token}`);
      console.log("add to the hub's config, under training.remote.tokens:");
      console.log(JSON.stringify({ name: flags.name, sha256: t.sha256 }));
    });
}
