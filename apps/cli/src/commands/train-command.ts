import type { KensaClient } from "@kensa/client";
import { type CreateRun, KensaError, type RunHyper, type TrainingRun, trainingRoutes } from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag, numberFlag } from "../cli-input.js";
import { gateReportOf, hubClientFrom } from "../hub-client.js";
import { resolveProject, resolvesOwnProject } from "../resolve.js";
import { tilingFlag } from "./tile-flag.js";

interface TrainFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
  project: string;
  snapshot?: string;
  task?: string;
  epochs?: number;
  batchSize?: number;
  input?: string;
  channels?: string;
  lr?: number;
  patience?: number;
  threads?: number;
  augment?: string;
  balance?: boolean;
  quantize?: boolean;
  seed?: number;
  trainer?: string;
  budget?: number;
  tile?: string | boolean;
  tileOverlap?: number;
  by: string;
  wait: boolean;
  gate: boolean;
}

/** Exit codes of `kensa train`. */
export const trainExit = { succeeded: 0, failed: 1, cancelled: 2, interrupted: 130 } as const;

/**
 * `kensa train --project <id> [--snapshot <id>] …`: snapshots the project when no snapshot is
 * named (the hub does), starts a run, draws its progress with ETA, then waits for the gate's
 * decision; exits with the run's outcome (0 succeeded, 1 failed, 2 cancelled, 130 after Ctrl-C,
 * which cancels the run).
 */
export function registerTrainCommand(program: Command, hubOpts: (cmd: Command) => Command): void {
  hubOpts(
    resolvesOwnProject(program.command("train"))
      .description("train a model on a snapshot of a project and follow the run")
      .requiredOption("--project <project>", "project id, slug or name")
      .option("--snapshot <id>", "snapshot to train on (default: a new snapshot of the labeled samples)")
      .addOption(
        new Option("--task <task>", "must be the project's task (a guard for scripts)").choices([
          "classification",
          "segmentation",
          "detection",
        ]),
      )
      .option("--epochs <n>", "epochs (upper bound; early stopping may end sooner)", intFlag("--epochs", 1, 10_000))
      .option("--batch-size <n>", "batch size", intFlag("--batch-size", 1, 4096))
      .option("--input <WxH>", "model input size in px, e.g. 128x96")
      .addOption(new Option("--channels <n>", "model input channels (1 = grayscale)").choices(["1", "3"]))
      .option("--lr <rate>", "peak learning rate", numberFlag("--lr", { above: 0, max: 10 }))
      .option(
        "--patience <n>",
        "epochs without a real gain of the smoothed val metric before stopping (0 = never; default max(8, 20 % of epochs))",
        intFlag("--patience", 0),
      )
      .option("--threads <n>", "trainer threads (default: every core)", intFlag("--threads", 1, 1024))
      .option(
        "--augment <list>",
        `augmentations to turn on, or off with a leading '-': ${AUGMENTS.join(",")} (e.g. vflip,-noise)`,
      )
      .option("--no-balance", "sample the classes as they come instead of class-balanced")
      .option("--quantize", "also export an int8 model")
      .option(
        "--budget <time>",
        "trainer wall time, e.g. 90s, 20m, 1h30m: the epochs are chosen to fit and training stops when it is spent",
        parseBudget,
      )
      .option(
        "--tile <px>",
        "train and infer on tiles of this many frame px (256 or 320x240), for small defects on large frames",
      )
      .option("--tile-overlap <px>", "px neighbouring tiles share (default 32)", intFlag("--tile-overlap", 0, 4096))
      .option("--no-tile", "whole frames, even where the automatic recipe would tile")
      .option("--seed <n>", "random seed", intFlag("--seed", 0, 2 ** 31 - 1))
      .option("--trainer <name>", "a trainer configured on the hub (default: the project's, else builtin)")
      .option("--by <who>", "who starts the run", process.env.USER ?? "cli")
      .option("--no-wait", "start the run and print its id without following it")
      .option("--no-gate", "do not wait for the gate's decision after training"),
  ).action(async (o: TrainFlags) => {
    const hyper: RunHyper = {};
    if (o.epochs !== undefined) hyper.epochs = o.epochs;
    if (o.batchSize !== undefined) hyper.batchSize = o.batchSize;
    if (o.lr !== undefined) hyper.lr = o.lr;
    if (o.patience !== undefined) hyper.patience = o.patience;
    if (o.quantize) hyper.quantize = true;
    if (o.augment) hyper.augment = parseAugment(o.augment);
    if (o.balance === false) hyper.balanceClasses = false;
    const body: CreateRun = { by: o.by, hyper };
    if (o.snapshot) body.snapshotId = o.snapshot;
    if (o.task) body.task = o.task as "classification";
    if (o.seed !== undefined) body.seed = o.seed;
    if (o.trainer) body.trainer = o.trainer;
    if (o.threads !== undefined) body.threads = o.threads;
    if (o.budget !== undefined) body.budgetSec = o.budget;
    const tiling = tilingFlag(o.tile, o.tileOverlap);
    if (tiling !== undefined) body.tiling = tiling;
    if (o.input || o.channels) {
      const m = /^(\d+)x(\d+)$/.exec(o.input ?? "");
      if (!m)
        throw new KensaError(
          "KENSA_ERR_FLAG_INVALID",
          `--input must be WIDTHxHEIGHT, e.g. 128x96, got ${o.input ?? "nothing"}`,
        );
      body.input = { width: Number(m[1]), height: Number(m[2]), channels: o.channels === "1" ? 1 : 3 };
    }
    // flags are checked above, before anything reaches the hub
    const client = hubClientFrom(o);
    const projectId = (await resolveProject(client, o.project)).id;
    const run = await client.call(trainingRoutes.create, { params: { id: projectId }, body });
    console.log(`run ${run.id} queued on snapshot ${run.snapshotId.slice(0, 12)} (trainer ${run.trainer.name})`);
    const chosen = run.params.recipe?.reasons ?? [];
    if (chosen.length) {
      console.log(`recipe: ${chosen.map((r) => `${r.key} ${r.value}`).join("; ")} (why: kensa run show ${run.id})`);
    }
    if (!o.wait) return;
    process.exitCode = await follow(client, run, o);
  });
}

async function follow(client: KensaClient, started: TrainingRun, o: TrainFlags): Promise<number> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(trainExit.interrupted);
    interrupted = true;
    console.error("\ncancelling the run (Ctrl-C again to leave it running)…");
    client
      .call(trainingRoutes.cancel, { params: { id: started.id }, body: { by: o.by } })
      .catch((err: Error) => console.error(`cancel failed: ${err.message}`));
  };
  process.on("SIGINT", onSigint);
  const line = new ProgressLine();
  let run = started;
  let lastEpoch = -1;
  try {
    while (!["succeeded", "failed", "cancelled"].includes(run.status)) {
      await new Promise((r) => setTimeout(r, 1000));
      run = await client.call(trainingRoutes.get, { params: { id: run.id } });
      const p = run.progress;
      if (run.status === "running" && p) {
        line.draw(progressText(run));
        if (!line.tty && p.epoch !== lastEpoch && p.epoch > 0) console.log(progressText(run));
        lastEpoch = p.epoch;
      } else if (run.status === "queued") line.draw("queued…");
    }
  } finally {
    line.done();
    process.off("SIGINT", onSigint);
  }
  if (run.status !== "succeeded") {
    console.error(`run ${run.id} ${run.status}: ${run.error?.code ?? ""} ${run.error?.message ?? ""}`.trim());
    const text = await client.call(trainingRoutes.log, { params: { id: run.id } }).catch(() => "");
    const log = text.trim().split("\n").slice(-8);
    if (run.status === "failed" && log.length) console.error(`last lines of its log:\n  ${log.join("\n  ")}`);
    return interrupted ? trainExit.interrupted : run.status === "cancelled" ? trainExit.cancelled : trainExit.failed;
  }
  const secs = run.startedAt && run.finishedAt ? (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000 : 0;
  const tm = run.trainerMetrics;
  console.log(
    `run ${run.id} succeeded in ${secs.toFixed(0)} s → model version ${run.modelVersionId}` +
      (tm
        ? ` (trainer's ${tm.primaryMetric}: val ${tm.val.toFixed(3)}${tm.test !== null ? `, test ${tm.test.toFixed(3)}` : ""})`
        : ""),
  );
  if (o.gate && run.modelVersionId) {
    const deadline = Date.now() + 10 * 60_000;
    let gate = await gateReportOf(client, run.modelVersionId);
    while (!gate && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      gate = await gateReportOf(client, run.modelVersionId);
    }
    if (gate) {
      console.log(`gate: ${gate.decision.replace("_", " ")} — ${gate.reason}`);
      for (const r of gate.results) {
        console.log(
          `  ${r.pass ? "pass" : "FAIL"} ${r.hard ? "(hard) " : ""}${r.description}: champion ${fmt(r.champion)}, challenger ${fmt(r.challenger)}${r.note ? ` — ${r.note}` : ""}`,
        );
      }
      console.log(`see: kensa model show ${run.modelVersionId}`);
    } else console.log("the gate has not decided yet; see kensa model show later");
  }
  return trainExit.succeeded;
}

/** `--budget`: `90s`, `20m`, `1.5h`, `1h30m` → s (10 s to 7 days, the contract's range). */
export function parseBudget(raw: string): number {
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(raw.trim());
  const sec =
    m && raw.trim() ? Math.round(Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) : Number.NaN;
  if (!(sec >= 10 && sec <= 7 * 24 * 3600)) {
    throw new KensaError(
      "KENSA_ERR_FLAG_INVALID",
      `--budget must be a time of 10s to 168h with a unit s, m or h (e.g. 90s, 20m, 1h30m), got "${raw}"`,
    );
  }
  return sec;
}

const AUGMENTS = ["hflip", "vflip", "rotate", "brightnessContrast", "noise", "crop"] as const;

/** `vflip,-noise` → `{ vflip: true, noise: false }`; unknown names are an error naming the known ones. */
export function parseAugment(list: string): NonNullable<RunHyper["augment"]> {
  const out: Record<string, boolean> = {};
  for (const raw of list
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    const off = raw.startsWith("-");
    const name = off ? raw.slice(1) : raw;
    if (!(AUGMENTS as readonly string[]).includes(name)) {
      throw new KensaError(
        "KENSA_ERR_FLAG_INVALID",
        `--augment: unknown augmentation "${name}"; known: ${AUGMENTS.join(", ")}`,
      );
    }
    out[name] = !off;
  }
  return out;
}

function progressText(run: TrainingRun): string {
  const p = run.progress!;
  const width = 24;
  const bar = `[${"#".repeat(Math.round(p.fraction * width)).padEnd(width, ".")}]`;
  const metric = p.valMetric !== null ? ` val ${p.primaryMetric ?? "metric"} ${p.valMetric.toFixed(3)}` : "";
  const loss = p.loss !== null ? ` loss ${p.loss.toFixed(3)}` : "";
  const eta = p.etaSec !== null ? ` ETA ${formatSecs(p.etaSec)}` : "";
  return `epoch ${p.epoch}/${p.epochs} ${bar} ${(p.fraction * 100).toFixed(0).padStart(3)}%${loss}${metric}${eta}`;
}

function formatSecs(s: number): string {
  return s >= 90 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.round(s)}s`;
}

function fmt(v: number | null): string {
  return v === null ? "—" : Number.isInteger(v) ? String(v) : v.toFixed(3);
}

/** One redrawn line on a terminal; nothing when stderr is not one (logs get epoch lines instead). */
class ProgressLine {
  readonly tty = process.stderr.isTTY === true;
  #drawn = false;

  draw(text: string): void {
    if (!this.tty) return;
    process.stderr.write(`\r\x1b[2K${text}`);
    this.#drawn = true;
  }

  done(): void {
    if (this.#drawn) process.stderr.write("\n");
    this.#drawn = false;
  }
}
