import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { agentServiceEnv } from "@kensa/agent";
import {
  API_REFERENCE_PREFIX,
  fleetRoutes,
  type HubStats,
  incidentRoutes,
  registryRoutes,
  systemRoutes,
  trainingRoutes,
} from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  createInspectionProject,
  enrollAgents,
  pushBlemishModel,
  type ScenarioAgent,
  type ScenarioHub,
  startScenarioHub,
  startSmtpSink,
  startWebhookSink,
  syntheticCamera,
} from "@kensa/scenario";
import { DEMO_USER, type DemoModel, demoModels, finishRetrain, trainFirstModel } from "./demo-models.js";

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
  let hub: ScenarioHub<Hub> | undefined;
  const agents: ScenarioAgent[] = [];
  let reviewer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let verdicts = 0;

  const shutdown = async () => {
    clearInterval(reviewer);
    clearInterval(ticker);
    await Promise.all(agents.map((a) => a.process.kill("SIGTERM")));
    await hub?.close();
    await webhook.close();
    await smtp.close();
  };

  try {
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dataDir, "hub"),
      httpPort: opts.httpPort,
      mqttPort: opts.mqttPort,
      smtp: { host: smtp.host, port: smtp.port, from: "kensa-demo@localhost" },
      config: { training: { pollMs: 500 } },
    });
    const { httpUrl, mqttUrl, client: api } = hub;
    const project = await createInspectionProject(api, {
      slug: "surface-line-1",
      name: "Surface inspection, line 1",
      notifications: {
        email: ["quality@plant.example"],
        webhooks: [{ url: webhook.url, secret: webhookSecret }],
        cooldownSec: 10,
      },
    });

    const trainer = await hub.hub.training.builtinTrainer();
    // the loop's own rules: the first model must reach 70 % to go out alone; later ones must
    // not be worse than the champion; approved models go to every camera of line 1
    await api.call(trainingRoutes.updateSettings, {
      params: { id: project.id },
      body: {
        autoDeploy: { tags: ["line-1"] },
        gate: { minPrimary: 0.7 },
        triggers: { newLabels: trainer.available ? opts.retrainAfter : null },
        defaults: {
          input: { width: 64, height: 48, channels: 3 },
          hyper: { epochs: 6, batchSize: 16, patience: 0 },
          // one thread: the agents infer beside the trainer on the same cores
          threads: 1,
        },
      },
    });

    const cameras = Array.from({ length: opts.devices }, (_, i) => ({
      id: `cam-${i + 1}`,
      tags: ["line-1"],
      sources: [syntheticCamera(1000 + i, { fps: opts.fps, defectRate: opts.defectRate })],
    }));
    agents.push(
      ...(await enrollAgents(api, project.id, cameras, {
        dir: dataDir,
        config: { telemetryIntervalMs: 1000 },
        // as a device runs it: the bundled agent with its service unit's memory settings
        env: { ...agentServiceEnv, KENSA_LOG_LEVEL: "warn" },
        built: true,
      })),
    );
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
      const pushed = await pushBlemishModel(api, project.id, { fileName: "blemish-v1.onnx" });
      // approving deploys it to the autoDeploy targets (tag line-1)
      await api.call(registryRoutes.approve, {
        params: { id: pushed.id },
        body: {
          by: DEMO_USER,
          reason: "hand-built fallback: no trained model (PyTorch missing or first training failed)",
          deploy: true,
        },
      });
      version = pushed;
    }

    log(`Kensa demo running`);
    log(
      `  console   ${httpUrl}/   (sign in as admin / ${hub.hub.initialAdminPassword ?? "the password in <data-dir>/hub/admin-password"})`,
    );
    log(`  API       ${httpUrl}${API_REFERENCE_PREFIX}   (admin token: ${hub.adminToken})`);
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
          const open = await api.call(incidentRoutes.list, { query: { status: "open", limit: 50 } });
          for (const inc of open.items) {
            const truth = inc.frameMeta.defect;
            const isDefect = typeof truth === "string" && truth.length > 0;
            await api.call(incidentRoutes.createVerdict, {
              params: { id: inc.id },
              body: {
                verdict: isDefect ? "confirmed" : "false_alarm",
                by: REVIEWER,
                note: isDefect ? `ground truth: ${truth}` : "ground truth: no defect",
              },
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
      const [stats, devices, models] = await Promise.all([
        api.call(systemRoutes.stats),
        api.call(fleetRoutes.list),
        api.call(registryRoutes.list, { query: { projectId: project.id } }),
      ]);
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
    if (trainer.available) {
      await api.call(trainingRoutes.updateSettings, {
        params: { id: project.id },
        body: { triggers: { newLabels: null } },
      });
    }
    await finishRetrain(api, project.id, log);
    const { stats, frames } = await snapshot();
    const models = await demoModels(api, project.id);
    const runs = (await api.call(trainingRoutes.listForProject, { params: { id: project.id } })).items;
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
      urls: { console: `${httpUrl}/`, api: `${httpUrl}${API_REFERENCE_PREFIX}`, mqtt: mqttUrl },
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
