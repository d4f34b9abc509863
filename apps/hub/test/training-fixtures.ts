import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Desired, type GateReport, type ModelVersion, type TrainingRun, topics } from "@kensa/contracts";
import { renderFrame, type SynthOptions } from "@kensa/synth";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import type { ApiCall } from "./helpers.js";

/**
 * A trainer honouring the contract in a few lines of Node, for what the real one should not
 * be made to do: `crash` prints an error line and exits 4; `garbage` exits 0 leaving a valid
 * manifest beside a model.onnx that is not ONNX; `slow` reports progress and waits for its
 * SIGTERM; `good <model.onnx> <manifest.json>` "trains" by copying a real model.
 */
export const FAKE_TRAINER = `
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
const [mode, ...rest] = process.argv.slice(2);
const job = JSON.parse(readFileSync(rest.at(-1), "utf8"));
const t0 = Date.now();
const el = () => (Date.now() - t0) / 1000;
const say = (o) => process.stdout.write(JSON.stringify({ ...o, elapsedSec: el() }) + "\\n");
mkdirSync(job.outputDir, { recursive: true });
const n = job.samples.length;
const counts = { train: 0, val: 0, test: 0 };
for (const s of job.samples) counts[s.split]++;
say({ type: "start", jobId: job.jobId, task: job.task, epochs: 2, stepsPerEpoch: 2, totalSteps: 4,
  samples: counts, threads: 1, trainer: "fake/1 " + mode });
writeFileSync(join(job.outputDir, "seen-job.json"), JSON.stringify(job));
if (mode === "crash") {
  console.error("Traceback (most recent call last):\\n  RuntimeError: fake crash");
  say({ type: "error", code: "KENSA_ERR_TRAINER_FAILED", exitCode: 4, message: "loss became NaN at epoch 1" });
  process.exit(4);
}
if (mode === "slow") {
  let step = 0;
  process.on("SIGTERM", () => process.exit(143));
  setInterval(() => { step = Math.min(4, step + 1);
    say({ type: "step", epoch: 1, step, totalSteps: 4, loss: 1 / step, etaSec: 100 }); }, 200);
} else {
  say({ type: "step", epoch: 1, step: 2, totalSteps: 4, loss: 0.5, etaSec: 1 });
  say({ type: "epoch", epoch: 1, epochs: 2, step: 2, totalSteps: 4, loss: 0.5, valLoss: 0.4, valMetric: 0.8,
    primaryMetric: "accuracy", val: { accuracy: 0.8 }, best: true, lr: 0.001, etaSec: 1 });
  if (mode === "garbage") {
    writeFileSync(join(job.outputDir, "model.onnx"), "this is not an ONNX model");
    writeFileSync(join(job.outputDir, "manifest.json"), readFileSync(rest[0]));
  } else {
    copyFileSync(rest[0], join(job.outputDir, "model.onnx"));
    copyFileSync(rest[1], join(job.outputDir, "manifest.json"));
  }
  say({ type: "done", bestEpoch: 1, epochsRun: 2, stoppedEarly: false, primaryMetric: "accuracy", val: 0.8,
    test: null, outputs: ["model.onnx", "manifest.json"] });
  process.exit(0);
}
`;

export async function writeFakeTrainer(dir: string): Promise<string> {
  const path = join(dir, "fake-trainer.mjs");
  await writeFile(path, FAKE_TRAINER);
  return path;
}

/**
 * Uploads synthetic frames as labeled samples ("defect" when the generator drew one, else
 * "ok"), `concurrency` at a time.
 */
export async function uploadFrames(
  call: ApiCall,
  projectId: string,
  count: number,
  synth: SynthOptions,
  first = 0,
): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => first + i);
  const one = async (i: number) => {
    const f = await renderFrame(i, synth);
    const r = await call(
      "POST",
      `/api/v1/projects/${projectId}/samples?source=synthetic&classes=${f.defect ? "defect" : "ok"}`,
      {
        raw: f.jpeg,
        headers: { "content-type": "image/jpeg" },
      },
    );
    if (r.status !== 201) throw new Error(`upload frame ${i}: ${r.status} ${JSON.stringify(r.json)}`);
  };
  for (let k = 0; k < ids.length; k += 8) await Promise.all(ids.slice(k, k + 8).map(one));
}

const TERMINAL = ["succeeded", "failed", "cancelled"];

export async function waitForRun(call: ApiCall, id: string, timeoutMs = 60_000): Promise<TrainingRun> {
  return waitFor(
    `run ${id} to finish`,
    async () => {
      const r = await call<TrainingRun>("GET", `/api/v1/runs/${id}`);
      return TERMINAL.includes(r.json.status) ? r.json : null;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

export async function waitForGate(call: ApiCall, modelId: string, timeoutMs = 60_000): Promise<GateReport> {
  return waitFor(
    `the gate report of ${modelId}`,
    async () => {
      const r = await call<GateReport>("GET", `/api/v1/models/${modelId}/gate`);
      return r.status === 200 ? r.json : null;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

export async function modelsOf(call: ApiCall, projectId: string): Promise<ModelVersion[]> {
  return (await call<{ items: ModelVersion[] }>("GET", `/api/v1/models?projectId=${projectId}`)).json.items;
}

/**
 * Every desired state a device is sent, from the moment this is created (so a deployment that
 * lands before a test starts waiting for it is not missed).
 */
export class DesiredWatch {
  readonly seen: Desired[] = [];
  #device: MqttClient;
  #deviceId: string;

  constructor(device: MqttClient, deviceId: string) {
    this.#device = device;
    this.#deviceId = deviceId;
    device.on("message", (topic, payload) => {
      if (topic === topics.desired(deviceId)) this.seen.push(JSON.parse(payload.toString()) as Desired);
    });
  }

  /** the first desired state that runs `modelVersionId` */
  running(modelVersionId: string, ms = 30_000): Promise<Desired> {
    return waitFor(
      `device ${this.#deviceId} to be given model ${modelVersionId}`,
      () => this.seen.find((d) => d.pipelines.some((p) => p.bundle?.modelVersionId === modelVersionId)),
      { timeoutMs: ms, intervalMs: 50 },
    );
  }

  get device(): MqttClient {
    return this.#device;
  }
}
