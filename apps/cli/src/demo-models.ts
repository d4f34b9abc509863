import type { KensaClient } from "@kensa/client";
import { datasetRoutes, type GateReport, registryRoutes, trainingRoutes } from "@kensa/contracts";
import { pushBlemishModel } from "@kensa/scenario";
import { hardPreset, renderFrame } from "@kensa/synth";
import { gateReportOf } from "./hub-client.js";

/** who the demo's own runs and decisions are recorded under */
export const DEMO_USER = "demo";
// the cameras film 320×240 brushed metal with the demo's hard task (faint defects, drifting
// light, coarse texture, some blur); the first model learns from frames of the same kind
const TRAIN_SYNTH = { seed: 4242, width: 320, height: 240, defectRate: 0.5, ...hardPreset } as const;

/** One model version that went through the demo, with its accuracy measured by the hub. */
export interface DemoModel {
  id: string;
  version: number;
  stage: string;
  champion: boolean;
  /** "run:<id> (manual|labels)" for trained models, "upload" for the hand-built one */
  source: string;
  /** accuracy on the test split of the snapshot the gate used (hub evaluation, ONNX Runtime) */
  accuracy: number | null;
  /** the gate's 95 % interval of that accuracy (Wilson) and the test samples it rests on; null without evidence */
  interval: { low: number; high: number; samples: number } | null;
  /** the challenger − champion accuracy difference the gate measured, with its interval; null for a first model */
  difference: { value: number; low: number; high: number; pValue: number | null } | null;
  /** the gate's decision, null when the version did not go through it */
  gate: string | null;
  /** the gate's decision in a few words ("refused: no significant improvement"), null without a report */
  gateNote: string | null;
  /** the gate report's own reason, in full */
  gateReason: string | null;
}

/**
 * Uploads synthetic frames (labeled from the generator's ground truth) and trains the first
 * model on them with the built-in trainer; the gate approves it on the 70 % floor and
 * auto-deploy sends it to the cameras. Null when training or the gate did not give a model.
 */
export async function trainFirstModel(
  api: KensaClient,
  projectId: string,
  frames: number,
  log: (line: string) => void,
  /** aborted on Ctrl-C: the run is cancelled through the hub */
  stop: AbortSignal,
): Promise<{ id: string; version: number } | null> {
  log(`  training  the first model: ${frames} synthetic frames, built-in PyTorch trainer, 64×48 input…`);
  const t0 = Date.now();
  for (let i = 0; i < frames && !stop.aborted; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, frames - i) }, async (_, k) => {
        const f = await renderFrame(i + k, TRAIN_SYNTH);
        await api.call(datasetRoutes.uploadSample, {
          params: { id: projectId },
          query: { classes: f.defect ? "defect" : "ok", source: "synthetic", by: "synthetic generator (ground truth)" },
          upload: f.jpeg,
          contentType: "image/jpeg",
        });
      }),
    );
  }
  let run = await api.call(trainingRoutes.create, { params: { id: projectId }, body: { by: DEMO_USER } });
  // every epoch from the run's log: the run's progress holds only the latest, and at this input
  // size several epochs finish between two polls
  const epochs = new EpochLines(log);
  while (!["succeeded", "failed", "cancelled"].includes(run.status)) {
    if (stop.aborted) {
      log(`  stopping: cancelling the first training (run ${run.id})…`);
      run = await api.call(trainingRoutes.cancel, { params: { id: run.id }, body: { by: DEMO_USER } }).catch(() => run);
      return null;
    }
    await sleep(1000, stop);
    run = await api.call(trainingRoutes.get, { params: { id: run.id } });
    epochs.take(await api.call(trainingRoutes.log, { params: { id: run.id } }).catch(() => ""));
  }
  epochs.take(await api.call(trainingRoutes.log, { params: { id: run.id } }).catch(() => ""));
  if (run.status !== "succeeded" || !run.modelVersionId) {
    log(`  !!! the first training ${run.status}: ${run.error?.code ?? ""} ${run.error?.message ?? ""}`);
    return null;
  }
  let gate = await gateReportOf(api, run.modelVersionId);
  for (let i = 0; !gate?.deploymentId && i < 120 && !stop.aborted; i++) {
    if (gate && gate.decision !== "auto_approved") break;
    await sleep(500, stop);
    gate = await gateReportOf(api, run.modelVersionId);
  }
  const model = await api.call(registryRoutes.get, { params: { id: run.modelVersionId } });
  const acc = gate?.results.find((r) => r.name === "primary_floor")?.challenger;
  const { interval } = evidenceOf(gate);
  const measured = interval
    ? `${acc?.toFixed(3) ?? "?"} [${interval.low.toFixed(3)}, ${interval.high.toFixed(3)}] on ${interval.samples} test frames`
    : `${acc?.toFixed(3) ?? "?"} on its test split`;
  log(
    `  trained   model v${model.version} in ${((Date.now() - t0) / 1000).toFixed(0)} s: accuracy ${measured}; ` +
      `gate: ${gate?.decision ?? "pending"}${gate?.deploymentId ? ", deployed to line-1" : ""}`,
  );
  if (gate?.decision !== "auto_approved") {
    log(`  !!! the gate did not approve the trained model (${gate?.reason ?? "no decision"})`);
    return null;
  }
  return model;
}

/**
 * Pushes the demo's challenger as a candidate: another kind of model than the champion, so the
 * two disagree on some frames. Beside the hand-built blemish model (64×64 input) it is the same
 * network reading the frames at 96×72, their own 4:3 shape at 1.5× the detail: on 300 frames of
 * the demo's hard task it caught 2 more of 94 faint defects, raised no false alarm, and disagreed
 * with the 64×64 one on 4 frames (1.3 %). Beside a trained champion it is the hand-built model.
 */
export async function pushChallenger(
  api: KensaClient,
  projectId: string,
  firstModel: "trained" | "hand-built",
  log: (line: string) => void,
): Promise<{ id: string; version: number }> {
  const finer = firstModel === "hand-built";
  const m = finer
    ? await pushBlemishModel(api, projectId, { width: 96, height: 72, fileName: "blemish-96x72.onnx" })
    : await pushBlemishModel(api, projectId, { fileName: "blemish.onnx" });
  log(
    `  challenger v${m.version} (${m.name}: ${finer ? "the hand-built blemish model at 96×72, finer than the champion's 64×64" : "Kensa's hand-built blemish model"}) ` +
      "pushed as a candidate: it may run in shadow, never replace the champion",
  );
  return m;
}

/** Waits (up to 2 min) for a run still training and the gate decision on its model. */
export async function finishRetrain(api: KensaClient, projectId: string, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 120_000;
  let said = false;
  while (Date.now() < deadline) {
    const runs = (await api.call(trainingRoutes.listForProject, { params: { id: projectId } })).items;
    const busy = runs.find((r) => r.status === "queued" || r.status === "running");
    const ungated = runs.find((r) => r.status === "succeeded" && r.modelVersionId);
    const waitingGate = ungated?.modelVersionId ? !(await gateReportOf(api, ungated.modelVersionId)) : false;
    if (!busy && !waitingGate) return;
    if (!said) log("  finishing the retrain in progress before reporting…");
    said = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Cancels, through the hub, every run of the project still queued or training, and waits (up
 * to 30 s) until each has ended. Says what became of them; null when none was in flight.
 */
export async function cancelRetrain(
  api: KensaClient,
  projectId: string,
  log: (line: string) => void,
): Promise<{ runId: string; status: string; note: string } | null> {
  const busy = (await api.call(trainingRoutes.listForProject, { params: { id: projectId } })).items.filter(
    (r) => r.status === "queued" || r.status === "running",
  );
  if (busy.length === 0) return null;
  let result: { runId: string; status: string; note: string } | null = null;
  for (const r of busy) {
    const epoch = r.progress ? `epoch ${r.progress.epoch}/${r.progress.epochs}` : r.status;
    log(`  stopping: cancelling the retrain in flight (run ${r.id}, ${epoch}, trigger ${r.trigger.type})…`);
    let run = await api
      .call(trainingRoutes.cancel, { params: { id: r.id }, body: { by: DEMO_USER } })
      // it ended between the list and the cancel (a Ctrl-C in the terminal reaches the trainer too)
      .catch(() => api.call(trainingRoutes.get, { params: { id: r.id } }));
    for (let i = 0; i < 60 && (run.status === "queued" || run.status === "running"); i++) {
      await sleep(500);
      run = await api.call(trainingRoutes.get, { params: { id: r.id } });
    }
    const note =
      run.status === "cancelled"
        ? `run ${r.id} (${epoch}) was cancelled through the hub; no model came of it`
        : `run ${r.id} (${epoch}) ended ${run.status}${run.error ? ` (${run.error.code})` : ""} while the demo stopped`;
    log(`  stopped:  ${note}`);
    result = { runId: r.id, status: run.status, note };
  }
  return result;
}

/** Prints each finished epoch of a run once, in order, from the trainer's JSON lines in its log. */
class EpochLines {
  #printed = 0;
  readonly #log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  take(runLog: string): void {
    for (const text of runLog.split("\n")) {
      if (!text.startsWith("{") || !text.includes('"epoch"')) continue;
      let l: {
        type?: string;
        epoch?: number;
        epochs?: number;
        loss?: number | null;
        valMetric?: number | null;
        primaryMetric?: string;
      };
      try {
        l = JSON.parse(text);
      } catch {
        continue;
      }
      if (l.type !== "epoch" || typeof l.epoch !== "number" || l.epoch <= this.#printed) continue;
      this.#printed = l.epoch;
      this.#log(
        `            epoch ${l.epoch}/${l.epochs}  loss ${l.loss?.toFixed(3) ?? "–"}  val ${l.primaryMetric ?? ""} ${l.valMetric?.toFixed(3) ?? "–"}`,
      );
    }
  }
}

/** ms; resolves early when `signal` aborts */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Every model version of the project, oldest first, with the hub's accuracy and the gate's decision. */
export async function demoModels(api: KensaClient, projectId: string): Promise<DemoModel[]> {
  const { items } = await api.call(registryRoutes.list, { query: { projectId } });
  const out: DemoModel[] = [];
  for (const m of [...items].sort((a, b) => a.version - b.version)) {
    const d = await api.call(registryRoutes.details, { params: { id: m.id } });
    const ev = (d.gate && d.evaluations.find((e) => e.snapshotId === d.gate!.snapshotId)) ?? d.evaluations[0];
    out.push({
      id: m.id,
      version: m.version,
      stage: m.stage,
      champion: m.champion ?? false,
      source: d.run ? `${m.source} (${d.run.trigger.type})` : m.source,
      accuracy: ev?.metrics?.values.accuracy ?? null,
      ...evidenceOf(d.gate),
      gate: d.gate?.decision ?? null,
      gateNote: d.gate ? gateNote(d.gate.decision, d.gate.reasonCode) : null,
      gateReason: d.gate?.reason ?? null,
    });
  }
  return out;
}

/** The interval and paired difference the gate measured, when its evidence is about accuracy. */
function evidenceOf(gate: GateReport | null): Pick<DemoModel, "interval" | "difference"> {
  const e = gate?.evidence;
  if (e?.metric !== "accuracy") return { interval: null, difference: null };
  const { low, high } = e.challenger;
  return {
    interval: { low, high, samples: e.samples },
    difference: e.difference
      ? { value: e.difference.value, low: e.difference.low, high: e.difference.high, pValue: e.test?.pValue ?? null }
      : null,
  };
}

/** What the gate did, in the words the demo's summary uses. */
export function gateNote(decision: string, reasonCode: string | undefined): string {
  if (reasonCode === "tie") return "refused: no significant improvement (a tie on every test sample)";
  if (reasonCode === "not_significant") return "refused: no significant improvement";
  if (reasonCode === "approved") return "approved: better beyond noise, or a first model over its floor";
  if (reasonCode === "too_few_samples") return "no conclusion: too few test samples, a person decides";
  return reasonCode ? `${decision.replace("_", " ")} (${reasonCode})` : decision.replace("_", " ");
}
