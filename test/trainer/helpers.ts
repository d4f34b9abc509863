import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { TrainerBox, TrainerJob, TrainerProgress, TrainerSample } from "@kensa/contracts";
import { defectTypes, renderPixels, type SynthOptions } from "@kensa/synth";
import { needService } from "@kensa/testkit";
import sharp from "sharp";

export const trainerDir = resolve(import.meta.dirname, "../../trainers/torch");

/** KENSA_PYTHON, else Debian's interpreter (where python3-torch lives), else python3 on PATH. */
export const python = process.env.KENSA_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

function torchImports(): boolean {
  try {
    execFileSync(python, ["-c", "import torch, torchvision, onnx, PIL"], { stdio: "ignore", timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** True when the trainer's tests must skip (prints why); throws under KENSA_REQUIRE_ALL=1. */
export function skipWithoutTorch(): boolean {
  return needService(`PyTorch (${python} -c "import torch, torchvision, onnx")`, torchImports());
}

/** The defect types synth draws on brushed metal (its default surface): our detection and segmentation labels. */
export const defectLabels = ["spot", "scratch", "stain"] as const;

export interface SynthSet {
  samples: TrainerSample[];
  /** ground truth per sample id: the defects drawn, boxes in frame pixels */
  truth: Map<string, { defects: Array<{ type: string; box: [number, number, number, number] }> }>;
}

export interface SynthSetOptions {
  dir: string;
  count: number;
  synth: Omit<SynthOptions, "seed" | "defects" | "masks"> & { seed: number };
  /**
   * classification: labels ok, defect; detection: a box per defect labelled spot, scratch or
   * stain; segmentation: a class-index mask PNG per frame (background, spot, scratch, stain)
   */
  task: TrainerJob["task"];
  /** share of frames in val and test, each; default 0.2 */
  holdout?: number;
}

/**
 * Renders `count` synthetic frames as JPEG files with their ground truth, in the form the hub
 * materialises a snapshot: every 5th frame goes to val, every 5th + 1 to test (holdout 0.2).
 * Masks are synth's own (the pixels each defect's rasteriser marked), re-indexed to our labels.
 */
export async function synthSet(o: SynthSetOptions): Promise<SynthSet> {
  await mkdir(o.dir, { recursive: true });
  const samples: TrainerSample[] = [];
  const truth: SynthSet["truth"] = new Map();
  const period = Math.round(1 / (o.holdout ?? 0.2));
  const masks = o.task === "segmentation";
  // synth's class index k is defectTypes[k - 1]; ours is the position in ["background", ...defectLabels]
  const remap = Uint8Array.from({ length: 256 }, (_, k) =>
    k === 0 ? 0 : (defectLabels as readonly string[]).indexOf(defectTypes[k - 1] ?? "") + 1,
  );
  for (let i = 0; i < o.count; i++) {
    const px = renderPixels(i, { ...o.synth, defects: defectLabels, masks });
    const id = `f${String(i).padStart(4, "0")}`;
    const path = join(o.dir, `${id}.jpg`);
    await sharp(px.rgb, { raw: { width: px.width, height: px.height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(path);
    const split = i % period === 0 ? "val" : i % period === 1 ? "test" : "train";
    const defects = px.defects.map((d) => ({ type: d.type as string, box: d.box }));
    const sample: TrainerSample = { id, path, split, classes: [...new Set(defects.map((d) => d.type))] };
    if (o.task === "classification") sample.classes = [defects.length ? "defect" : "ok"];
    if (o.task === "detection") {
      sample.boxes = defects.map(
        (d): TrainerBox => ({ label: d.type, x: d.box[0], y: d.box[1], w: d.box[2], h: d.box[3] }),
      );
    }
    if (masks) {
      if (!px.mask) throw new Error("synth rendered no mask");
      const mask = px.mask.map((k) => remap[k]!);
      sample.maskPath = join(o.dir, `${id}.mask.png`);
      await sharp(mask, { raw: { width: px.width, height: px.height, channels: 1 } })
        .toColourspace("b-w")
        .png()
        .toFile(sample.maskPath);
    }
    samples.push(sample);
    truth.set(id, { defects });
  }
  return { samples, truth };
}

export async function writeJob(path: string, job: TrainerJob | Record<string, unknown>): Promise<void> {
  await writeFile(path, JSON.stringify(job, null, 2));
}

export interface TrainerRun {
  child: ChildProcess;
  lines: TrainerProgress[];
  stderr: string;
  /** resolves with the exit code (or the signal name if it died of one) */
  exited: Promise<number | string>;
  /** resolves with the first progress line of this type; rejects if the trainer exits without one */
  waitFor(type: TrainerProgress["type"]): Promise<TrainerProgress>;
}

/** Starts the built-in trainer on a job file, as the hub does: `python3 -m kensa_trainer job.json`. */
export function startTrainer(jobPath: string): TrainerRun {
  const child = spawn(python, ["-m", "kensa_trainer", jobPath], {
    cwd: trainerDir,
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: TrainerProgress[] = [];
  const waiters: Array<{ type: string; resolve: (l: TrainerProgress) => void; reject: (e: Error) => void }> = [];
  let buf = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buf += chunk.toString("utf8");
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = JSON.parse(buf.slice(0, nl)) as TrainerProgress;
      buf = buf.slice(nl + 1);
      lines.push(line);
      if (process.env.KENSA_TEST_VERBOSE) console.log(JSON.stringify(line));
      for (const w of waiters.filter((w) => w.type === line.type)) w.resolve(line);
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<number | string>((res) => {
    child.once("exit", (code, signal) => {
      const how = code ?? signal ?? "unknown";
      for (const w of waiters)
        w.reject(new Error(`trainer exited (${how}) before a "${w.type}" line: ${stderr.slice(-500)}`));
      res(how);
    });
  });
  return {
    child,
    lines,
    get stderr() {
      return stderr;
    },
    exited,
    waitFor: (type) => {
      const seen = lines.find((l) => l.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((res, rej) => waiters.push({ type, resolve: res, reject: rej }));
    },
  };
}

/** Runs the trainer to its end. */
export async function runTrainer(
  jobPath: string,
): Promise<{ code: number | string; lines: TrainerProgress[]; stderr: string }> {
  const run = startTrainer(jobPath);
  const code = await run.exited;
  return { code, lines: run.lines, stderr: run.stderr };
}

/** A job for `samples` with small, fast hyper-parameters; `hyper` entries override. */
export function makeJob(
  task: TrainerJob["task"],
  samples: TrainerSample[],
  outputDir: string,
  input: { width: number; height: number },
  hyper: Partial<TrainerJob["hyper"]> = {},
): TrainerJob {
  const labels =
    task === "classification"
      ? ["ok", "defect"]
      : task === "segmentation"
        ? ["background", ...defectLabels]
        : [...defectLabels];
  return {
    schema: "kensa.trainer-job/v1",
    jobId: `test-${task}`,
    task,
    labels,
    okLabels: task === "classification" ? ["ok"] : task === "segmentation" ? ["background"] : [],
    input: { ...input, channels: 3 },
    hyper: {
      epochs: 10,
      batchSize: 16,
      lr: 0.003,
      weightDecay: 0.0001,
      patience: 20,
      augment: { hflip: true, vflip: true, rotate: true, brightnessContrast: true, noise: true, crop: true },
      balanceClasses: true,
      quantize: false,
      ...hyper,
    },
    seed: 1,
    // two trainer tests may run at once on a 2-core CI machine: one thread each
    threads: 1,
    outputDir,
    samples,
  };
}

/** Fraction of `values` that are true. */
export function share(values: boolean[]): number {
  return values.length ? values.filter(Boolean).length / values.length : 0;
}
