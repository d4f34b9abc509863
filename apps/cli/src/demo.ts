import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { agentServiceEnv } from "@kensa/agent";
import { API_REFERENCE_PREFIX, incidentRoutes, registryRoutes, trainingRoutes } from "@kensa/contracts";
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
import { hardPreset } from "@kensa/synth";
import { cancelRetrain, DEMO_USER, finishRetrain, trainFirstModel } from "./demo-models.js";
import { type DemoReport, type DemoSnapshot, loopChecks, takeSnapshot } from "./demo-report.js";
import { RolloutDriver } from "./demo-rollouts.js";

export type { DemoReport } from "./demo-report.js";

/** pino levels the hub takes; the agents take the nearest of debug | info | warn | error */
export type DemoLogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

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
  /** the hub's and the agents' log level ("warn" when omitted) */
  logLevel?: DemoLogLevel;
}

const REVIEWER = "simulated-reviewer (generator ground truth)";
const AGENT_LEVEL: Record<DemoLogLevel, string> = {
  fatal: "error",
  error: "error",
  warn: "warn",
  info: "info",
  debug: "debug",
  trace: "debug",
  silent: "error",
};

/**
 * The whole loop on one machine: an embedded hub, a local mail and webhook inbox, N real agent
 * processes with synthetic cameras, the first model deployed, and a simulated reviewer. On
 * Ctrl-C (or SIGTERM) what happened is read from the hub first, while everything still runs;
 * then a retrain in flight is cancelled, the agents stopped, then the hub.
 */
export async function runDemo(opts: DemoOptions, log: (line: string) => void = console.log): Promise<DemoReport> {
  const startedAt = new Date();
  const dataDir = resolve(opts.dataDir);
  const level = opts.logLevel ?? "warn";
  // from the first moment: a Ctrl-C while the first model trains still ends with a report
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) {
      log("second Ctrl-C: exiting without the summary");
      process.exit(130);
    }
    log("");
    log("  stopping: reading what happened from the hub before anything stops…");
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const webhookSecret = "demo-webhook-secret-0123456789";
  const smtp = await startSmtpSink();
  const webhook = await startWebhookSink(webhookSecret);
  let hub: ScenarioHub<Hub> | undefined;
  const agents: ScenarioAgent[] = [];
  let reviewer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let driver: RolloutDriver | undefined;
  let verdicts = 0;
  const side = () => ({
    mails: smtp.mails.length,
    webhooks: webhook.received.length,
    webhooksSigned: webhook.received.filter((w) => w.signatureValid).length,
    verdictsSent: verdicts,
  });

  const shutdown = async () => {
    clearInterval(reviewer);
    clearInterval(ticker);
    await driver?.stop();
    if (agents.length > 0) log(`  stopping: ${agents.length} agents…`);
    await Promise.all(agents.map((a) => a.process.kill("SIGTERM")));
    if (hub) log("  stopping: the hub…");
    await hub?.close();
    await webhook.close();
    await smtp.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };

  try {
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dataDir, "hub"),
      httpPort: opts.httpPort,
      mqttPort: opts.mqttPort,
      smtp: { host: smtp.host, port: smtp.port, from: "kensa-demo@localhost" },
      // rollout gates judged every 2 s rather than 15: the demo's waves bake for 30 s
      config: { training: { pollMs: 500 }, rollout: { tickSeconds: 2 }, logLevel: level },
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
    // the loop's own rules: the first model must reach 70 % to go out alone; later ones must beat
    // the champion beyond the test split's noise (a tie is refused, and the summary says so);
    // approved models go to every camera of line 1
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
      sources: [syntheticCamera(1000 + i, { fps: opts.fps, defectRate: opts.defectRate, hard: hardPreset })],
    }));
    agents.push(
      ...(await enrollAgents(api, project.id, cameras, {
        dir: dataDir,
        // state every 5 s rather than 30: it carries the shadow's agreement the rollout gate reads
        config: { telemetryIntervalMs: 1000, reportIntervalMs: 5000 },
        // as a device runs it: the bundled agent with its service unit's memory settings
        env: { ...agentServiceEnv, KENSA_LOG_LEVEL: AGENT_LEVEL[level] },
        built: true,
      })),
    );
    let firstModel: "trained" | "hand-built" = "hand-built";
    let version: { id: string; version: number } | null = null;
    if (trainer.available) {
      version = await trainFirstModel(api, project.id, opts.trainFrames, log, stop.signal);
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
    if (!version && !stop.signal.aborted) {
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
    if (version && !stop.signal.aborted) {
      // the first model went out at once; from here approved versions go out in stages (RolloutDriver)
      await api.call(trainingRoutes.updateSettings, { params: { id: project.id }, body: { autoDeploy: null } });
      driver = new RolloutDriver({
        api,
        projectId: project.id,
        tag: "line-1",
        canary: cameras[0]!.id,
        firstModel,
        reviewer: opts.simulatedReviewer,
        log,
      });
    }

    if (!stop.signal.aborted) {
      log(`Kensa demo running`);
      log(
        `  console   ${httpUrl}/   (sign in as admin / ${hub.hub.initialAdminPassword ?? "the password in <data-dir>/hub/admin-password"})`,
      );
      log(`  API       ${httpUrl}${API_REFERENCE_PREFIX}   (admin token: ${hub.adminToken})`);
      log(`  MQTT      ${mqttUrl}`);
      log(`  devices   ${agents.length} agents with synthetic cameras at ${opts.fps} fps, model v${version?.version}`);
      log(`  inbox     SMTP ${smtp.host}:${smtp.port}, webhook ${webhook.url}`);
      if (opts.simulatedReviewer) log(`  reviewer  ${REVIEWER} answers incidents`);
      if (trainer.available)
        log(`  retrain   after ${opts.retrainAfter} new reviewed labels; the gate decides, approved models roll out`);
      log(
        `  rollouts  autoDeploy is now off: approved versions go out in staged waves (canary ${cameras[0]!.id}, then ×2), ` +
          "a challenger runs in shadow and is backtested",
      );
    }
    driver?.start();

    if (opts.simulatedReviewer) {
      let busy = false;
      reviewer = setInterval(() => {
        if (busy || stop.signal.aborted) return;
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

    const checkOpts = { simulatedReviewer: opts.simulatedReviewer, trainerAvailable: trainer.available };
    let saidTurned = false;
    ticker = setInterval(() => {
      if (stop.signal.aborted) return;
      takeSnapshot(api, project.id)
        .then((snap) => {
          if (stop.signal.aborted) return;
          const { stats, frames, models } = snap;
          log(
            `  online ${stats.devices.online}/${stats.devices.total} · frames ${frames} · events ${stats.events} · ` +
              `incidents ${stats.incidents} · notified ${stats.notifications.sent} · verdicts ${stats.verdicts} · ` +
              `models ${models.length} (champion v${models.find((m) => m.champion)?.version ?? "–"})`,
          );
          if (!saidTurned && loopChecks(snap, side(), checkOpts).turned) {
            saidTurned = true;
            const secs = Math.round((Date.now() - startedAt.getTime()) / 1000);
            log(`  loop      turned after ${secs} s: every stage happened at least once (Ctrl-C for the summary)`);
          }
        })
        .catch(() => undefined);
    }, 5000);

    if (!stop.signal.aborted) {
      await new Promise<void>((resolveStop) => {
        stop.signal.addEventListener("abort", () => resolveStop(), { once: true });
        if (opts.forMs !== undefined) setTimeout(resolveStop, opts.forMs).unref();
      });
    }

    // no new rollout nor retrain from here on
    await driver?.stop();
    if (trainer.available) {
      await api.call(trainingRoutes.updateSettings, {
        params: { id: project.id },
        body: { triggers: { newLabels: null } },
      });
    }
    let snap: DemoSnapshot;
    let retrainInFlight: DemoReport["retrainInFlight"] = null;
    const stoppedBy: DemoReport["stoppedBy"] = stop.signal.aborted ? "signal" : "timer";
    if (stoppedBy === "signal") {
      // what happened, read before anything stops (the agents have had Ctrl-C too)
      snap = await takeSnapshot(api, project.id);
      retrainInFlight = await cancelRetrain(api, project.id, log);
    } else {
      // a timed run has the time: the retrain the reviewer's labels started, and its gate, finish,
      // and so does the backtest in flight
      await finishRetrain(api, project.id, log);
      await driver?.finishBacktest(60_000);
      snap = await takeSnapshot(api, project.id);
    }
    const { checks, turned } = loopChecks(snap, side(), checkOpts);
    const endedAt = new Date();
    const report: DemoReport = {
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationSec: Math.round((endedAt.getTime() - startedAt.getTime()) / 100) / 10,
      stoppedBy,
      urls: { console: `${httpUrl}/`, api: `${httpUrl}${API_REFERENCE_PREFIX}`, mqtt: mqttUrl },
      devices: { ...snap.stats.devices, seenOnline: snap.seenOnline },
      framesInspected: snap.frames,
      eventsStored: snap.stats.events,
      incidents: snap.stats.incidents,
      notificationsSent: snap.stats.notifications.sent,
      emailsReceived: smtp.mails.length,
      webhooksReceived: webhook.received.length,
      webhooksWithValidSignature: side().webhooksSigned,
      verdicts: Math.max(verdicts, snap.stats.verdicts),
      ingest: snap.stats.ingest,
      training: { available: trainer.available, python: trainer.python, firstModel, runs: snap.runs.length },
      retrainInFlight,
      models: snap.models,
      rollouts: snap.fleet.rollouts,
      shadowAgreement: snap.fleet.shadowAgreement,
      backtest: snap.fleet.backtest,
      loopTurned: turned,
      checks,
    };
    if (opts.reportPath) await writeFile(opts.reportPath, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await shutdown();
  }
}
