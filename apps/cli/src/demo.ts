import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { agentServiceEnv } from "@kensa/agent";
import type { HubStats } from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { renderFrame } from "@kensa/synth";
import { type AgentProcess, spawnAgent, startSmtpSink, startWebhookSink } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { HubClient } from "./hub-client.js";

export interface DemoOptions {
  devices: number;
  fps: number;
  defectRate: number;
  dataDir: string;
  /** ms to run before reporting and exiting; run until Ctrl-C when undefined */
  forMs?: number;
  reportPath?: string;
  httpPort: number;
  mqttPort: number;
  /** answer incidents from the generator's ground truth (clearly a simulation) */
  simulatedReviewer: boolean;
  /** new reviewed labels (verdicts) after which the project retrains by itself */
  retrainAfter: number;
  /** synthetic frames the first model trains on */
  trainFrames: number;
}

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
  /** the gate's decision, null when the version did not go through it */
  gate: string | null;
}

export interface DemoReport {
  startedAt: string;
  endedAt: string;
  durationSec: number;
  urls: { console: string; api: string; mqtt: string };
  devices: { total: number; online: number };
  framesInspected: number;
  eventsStored: number;
  incidents: number;
  notificationsSent: number;
  emailsReceived: number;
  webhooksReceived: number;
  webhooksWithValidSignature: number;
  verdicts: number;
  ingest: HubStats["ingest"];
  /** how the first model came about; "hand-built" only when PyTorch is missing */
  training: { available: boolean; python: string; firstModel: "trained" | "hand-built"; runs: number };
  models: DemoModel[];
  /** every stage of the loop happened at least once */
  loopTurned: boolean;
  checks: Record<string, boolean>;
}

const REVIEWER = "simulated-reviewer (generator ground truth)";
const DEMO_USER = "demo";
// the cameras film 320×240 brushed metal; the first model learns from frames of the same kind
const TRAIN_SYNTH = { seed: 4242, width: 320, height: 240, defectRate: 0.5 } as const;

/**
 * The whole loop on one machine: an embedded hub, a local mail and webhook inbox, N real agent
 * processes with synthetic cameras, the first model deployed, and a simulated reviewer.
 */
export async function runDemo(opts: DemoOptions, log: (line: string) => void = console.log): Promise<DemoReport> {
  const startedAt = new Date();
  const dataDir = resolve(opts.dataDir);
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });

  const webhookSecret = "demo-webhook-secret-0123456789";
  const smtp = await startSmtpSink();
  const webhook = await startWebhookSink(webhookSecret);
  const hub = await createHub({
    dataDir: join(dataDir, "hub"),
    http: { host: "127.0.0.1", port: opts.httpPort },
    mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: opts.mqttPort } },
    smtp: { host: smtp.host, port: smtp.port, from: "kensa-demo@localhost" },
    logLevel: "warn",
    training: { pollMs: 500 },
  });
  const agents: AgentProcess[] = [];
  let reviewer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let verdicts = 0;

  const shutdown = async () => {
    clearInterval(reviewer);
    clearInterval(ticker);
    await Promise.all(agents.map((a) => a.kill("SIGTERM")));
    await hub.close();
    await webhook.close();
    await smtp.close();
  };

  try {
    const { httpUrl, mqttUrl } = await hub.start();
    const api = new HubClient(httpUrl, hub.adminToken);
    const project = await api.createProject({
      slug: "surface-line-1",
      name: "Surface inspection, line 1",
      task: "classification",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      rule: { type: "threshold", labels: ["defect"], minScore: 0.5 },
      notifications: {
        email: ["quality@plant.example"],
        webhooks: [{ url: webhook.url, secret: webhookSecret }],
        cooldownSec: 10,
      },
    });

    const trainer = await hub.services.training.builtinTrainer();
    // the loop's own rules: the first model must reach 70 % to go out alone; later ones must
    // not be worse than the champion; approved models go to every camera of line 1
    await api.updateTrainingSettings(project.id, {
      autoDeploy: { tags: ["line-1"] },
      gate: { minPrimary: 0.7 },
      triggers: { newLabels: trainer.available ? opts.retrainAfter : null },
      defaults: {
        input: { width: 64, height: 48, channels: 3 },
        hyper: { epochs: 6, batchSize: 16, patience: 0 },
        // one thread: the agents infer beside the trainer on the same cores
        threads: 1,
      },
    });

    for (let i = 0; i < opts.devices; i++) {
      const enrolled = await api.enrollDevice({ projectId: project.id, id: `cam-${i + 1}`, tags: ["line-1"] });
      const agentDir = join(dataDir, `agent-${enrolled.device.id}`);
      await mkdir(agentDir, { recursive: true });
      agents.push(
        await spawnAgent(
          {
            deviceId: enrolled.device.id,
            hubUrl: enrolled.hubUrl,
            mqttUrl: enrolled.mqttUrl,
            dataDir: agentDir,
            sources: [
              { id: "synthetic", type: "synthetic", fps: opts.fps, seed: 1000 + i, defectRate: opts.defectRate },
            ],
            telemetryIntervalMs: 1000,
            status: { port: 0 },
          },
          join(agentDir, "agent.json"),
          // as a device runs it: the bundled agent with its service unit's memory settings
          { ...agentServiceEnv, KENSA_DEVICE_SECRET: enrolled.secret, KENSA_LOG_LEVEL: "warn" },
          { built: true },
        ),
      );
    }
    let firstModel: "trained" | "hand-built" = "hand-built";
    let version: { id: string; version: number } | null = null;
    if (trainer.available) {
      version = await trainFirstModel(api, project.id, opts.trainFrames, log);
      if (version) firstModel = "trained";
    } else {
      log("");
      log("  !!! WARNING: PyTorch is not available here");
      log(
        `  !!! (${trainer.python} cannot "import torch, torchvision, onnx"; install python3-torch python3-torchvision`,
      );
      log("  !!! python3-onnx, or set KENSA_PYTHON). The demo falls back to Kensa's HAND-BUILT blemish model");
      log("  !!! instead of training its first model, and it will not retrain by itself.");
      log("");
    }
    if (!version) {
      const model = buildBlemishModel();
      const pushed = await api.pushModel(project.id, model.onnx, model.manifest, "blemish-v1.onnx");
      // approving deploys it to the autoDeploy targets (tag line-1)
      await api.decide(pushed.id, "approve", {
        by: DEMO_USER,
        reason: "hand-built fallback: no trained model (PyTorch missing or first training failed)",
      });
      version = pushed;
    }

    log(`Kensa demo running`);
    log(
      `  console   ${httpUrl}/   (sign in as admin / ${hub.initialAdminPassword ?? "the password in <data-dir>/hub/admin-password"})`,
    );
    log(`  API       ${httpUrl}/api/v1   (admin token: ${hub.adminToken})`);
    log(`  MQTT      ${mqttUrl}`);
    log(`  devices   ${agents.length} agents with synthetic cameras at ${opts.fps} fps, model v${version.version}`);
    log(`  inbox     SMTP ${smtp.host}:${smtp.port}, webhook ${webhook.url}`);
    if (opts.simulatedReviewer) log(`  reviewer  ${REVIEWER} answers incidents`);
    if (trainer.available)
      log(`  retrain   after ${opts.retrainAfter} new reviewed labels; the gate decides, approved models deploy`);

    if (opts.simulatedReviewer) {
      let busy = false;
      reviewer = setInterval(() => {
        if (busy) return;
        busy = true;
        void (async () => {
          const open = await api.listIncidents({ status: "open", limit: 50 });
          for (const inc of open.items) {
            const truth = inc.frameMeta.defect;
            const isDefect = typeof truth === "string" && truth.length > 0;
            await api.verdict(inc.id, {
              verdict: isDefect ? "confirmed" : "false_alarm",
              by: REVIEWER,
              note: isDefect ? `ground truth: ${truth}` : "ground truth: no defect",
            });
            verdicts++;
          }
        })()
          .catch((err: Error) => log(`reviewer: ${err.message}`))
          .finally(() => {
            busy = false;
          });
      }, 2000);
    }

    const snapshot = async () => {
      const [stats, devices, models] = await Promise.all([api.stats(), api.listDevices(), api.listModels(project.id)]);
      const frames = devices.items.reduce((n, d) => n + (d.telemetry?.framesTotal ?? 0), 0);
      return { stats, frames, models: models.items };
    };
    ticker = setInterval(() => {
      snapshot()
        .then(({ stats, frames, models }) =>
          log(
            `  online ${stats.devices.online}/${stats.devices.total} · frames ${frames} · events ${stats.events} · ` +
              `incidents ${stats.incidents} · notified ${stats.notifications.sent} · verdicts ${stats.verdicts} · ` +
              `models ${models.length} (champion v${models.find((m) => m.champion)?.version ?? "–"})`,
          ),
        )
        .catch(() => undefined);
    }, 5000);

    if (opts.forMs === undefined) {
      await new Promise<void>((resolveStop) => {
        process.once("SIGINT", () => resolveStop());
        process.once("SIGTERM", () => resolveStop());
      });
    } else {
      await new Promise((r) => setTimeout(r, opts.forMs));
    }

    // no new retrain from here on; the one the reviewer's labels started is worth its last
    // seconds: let it and its gate finish
    if (trainer.available) await api.updateTrainingSettings(project.id, { triggers: { newLabels: null } });
    await finishRetrain(api, project.id, log);
    const { stats, frames } = await snapshot();
    const models = await demoModels(api, project.id);
    const runs = (await api.listRuns(project.id)).items;
    const retrained = runs.some(
      (r) =>
        r.trigger.type === "labels" &&
        r.status === "succeeded" &&
        models.some((m) => m.id === r.modelVersionId && m.gate),
    );
    const endedAt = new Date();
    const checks = {
      devicesOnline: stats.devices.online > 0,
      framesInspected: frames > 0,
      eventsStored: stats.events > 0,
      incidentsRaised: stats.incidents > 0,
      notificationsSent: stats.notifications.sent > 0 && smtp.mails.length > 0 && webhook.received.length > 0,
      webhookSignaturesValid: webhook.received.length > 0 && webhook.received.every((w) => w.signatureValid),
      verdictsStored: stats.verdicts > 0 || !opts.simulatedReviewer,
      // verdicts became labels, the labels retrained the model, and the gate decided on it
      "loop.retrained": retrained,
    };
    // without PyTorch nothing can retrain: the check is reported, but does not fail the run
    const required = Object.entries(checks).filter(([k]) => trainer.available || k !== "loop.retrained");
    const report: DemoReport = {
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationSec: Math.round((endedAt.getTime() - startedAt.getTime()) / 100) / 10,
      urls: { console: `${httpUrl}/`, api: `${httpUrl}/api/v1`, mqtt: mqttUrl },
      devices: stats.devices,
      framesInspected: frames,
      eventsStored: stats.events,
      incidents: stats.incidents,
      notificationsSent: stats.notifications.sent,
      emailsReceived: smtp.mails.length,
      webhooksReceived: webhook.received.length,
      webhooksWithValidSignature: webhook.received.filter((w) => w.signatureValid).length,
      verdicts: Math.max(verdicts, stats.verdicts),
      ingest: stats.ingest,
      training: { available: trainer.available, python: trainer.python, firstModel, runs: runs.length },
      models,
      loopTurned: required.every(([, ok]) => ok),
      checks,
    };
    if (opts.reportPath) await writeFile(opts.reportPath, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await shutdown();
  }
}

/**
 * Uploads synthetic frames (labeled from the generator's ground truth) and trains the first
 * model on them with the built-in trainer; the gate approves it on the 70 % floor and
 * auto-deploy sends it to the cameras. Null when training or the gate did not give a model.
 */
async function trainFirstModel(
  api: HubClient,
  projectId: string,
  frames: number,
  log: (line: string) => void,
): Promise<{ id: string; version: number } | null> {
  log(`  training  the first model: ${frames} synthetic frames, built-in PyTorch trainer, 64×48 input…`);
  const t0 = Date.now();
  for (let i = 0; i < frames; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, frames - i) }, async (_, k) => {
        const f = await renderFrame(i + k, TRAIN_SYNTH);
        await api.uploadSample(projectId, f.jpeg, {
          classes: [f.defect ? "defect" : "ok"],
          source: "synthetic",
          by: "synthetic generator (ground truth)",
        });
      }),
    );
  }
  let run = await api.createRun(projectId, { by: DEMO_USER });
  let lastEpoch = 0;
  while (!["succeeded", "failed", "cancelled"].includes(run.status)) {
    await new Promise((r) => setTimeout(r, 1000));
    run = await api.getRun(run.id);
    const p = run.progress;
    if (p && p.epoch > lastEpoch) {
      lastEpoch = p.epoch;
      log(
        `            epoch ${p.epoch}/${p.epochs}  loss ${p.loss?.toFixed(3) ?? "–"}  val ${p.primaryMetric ?? ""} ${p.valMetric?.toFixed(3) ?? "–"}`,
      );
    }
  }
  if (run.status !== "succeeded" || !run.modelVersionId) {
    log(`  !!! the first training ${run.status}: ${run.error?.code ?? ""} ${run.error?.message ?? ""}`);
    return null;
  }
  let gate = await api.gateReport(run.modelVersionId);
  for (let i = 0; !gate?.deploymentId && i < 120; i++) {
    if (gate && gate.decision !== "auto_approved") break;
    await new Promise((r) => setTimeout(r, 500));
    gate = await api.gateReport(run.modelVersionId);
  }
  const model = await api.getModel(run.modelVersionId);
  const acc = gate?.results.find((r) => r.name === "primary_floor")?.challenger;
  log(
    `  trained   model v${model.version} in ${((Date.now() - t0) / 1000).toFixed(0)} s: accuracy ${acc?.toFixed(3) ?? "?"} ` +
      `on its test split; gate: ${gate?.decision ?? "pending"}${gate?.deploymentId ? ", deployed to line-1" : ""}`,
  );
  if (gate?.decision !== "auto_approved") {
    log(`  !!! the gate did not approve the trained model (${gate?.reason ?? "no decision"})`);
    return null;
  }
  return model;
}

/** Waits (up to 2 min) for a run still training and the gate decision on its model. */
async function finishRetrain(api: HubClient, projectId: string, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 120_000;
  let said = false;
  while (Date.now() < deadline) {
    const runs = (await api.listRuns(projectId)).items;
    const busy = runs.find((r) => r.status === "queued" || r.status === "running");
    const ungated = runs.find((r) => r.status === "succeeded" && r.modelVersionId);
    const waitingGate = ungated?.modelVersionId ? !(await api.gateReport(ungated.modelVersionId)) : false;
    if (!busy && !waitingGate) return;
    if (!said) log("  finishing the retrain in progress before reporting…");
    said = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function demoModels(api: HubClient, projectId: string): Promise<DemoModel[]> {
  const { items } = await api.listModels(projectId);
  const out: DemoModel[] = [];
  for (const m of [...items].sort((a, b) => a.version - b.version)) {
    const d = await api.modelDetails(m.id);
    const ev = (d.gate && d.evaluations.find((e) => e.snapshotId === d.gate!.snapshotId)) ?? d.evaluations[0];
    out.push({
      id: m.id,
      version: m.version,
      stage: m.stage,
      champion: m.champion ?? false,
      source: d.run ? `${m.source} (${d.run.trigger.type})` : m.source,
      accuracy: ev?.metrics?.values.accuracy ?? null,
      gate: d.gate?.decision ?? null,
    });
  }
  return out;
}
