import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { HubStats } from "@kensa/contracts";
import { createHub } from "@kensa/hub";
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
  const hub = await createHub({
    dataDir: join(dataDir, "hub"),
    http: { host: "127.0.0.1", port: opts.httpPort },
    mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: opts.mqttPort } },
    smtp: { host: smtp.host, port: smtp.port, from: "kensa-demo@localhost" },
    logLevel: "warn",
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

    const model = buildBlemishModel();
    const version = await api.pushModel(project.id, model.onnx, model.manifest, "blemish-v1.onnx");

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
          { KENSA_DEVICE_SECRET: enrolled.secret, KENSA_LOG_LEVEL: "warn" },
        ),
      );
    }
    await api.deploy({ modelVersionId: version.id, target: { deviceIds: [], tags: ["line-1"] } });

    log(`Kensa demo running`);
    log(`  console   ${httpUrl}/`);
    log(`  API       ${httpUrl}/api/v1   (admin token: ${hub.adminToken})`);
    log(`  MQTT      ${mqttUrl}`);
    log(`  devices   ${agents.length} agents with synthetic cameras at ${opts.fps} fps, model v${version.version}`);
    log(`  inbox     SMTP ${smtp.host}:${smtp.port}, webhook ${webhook.url}`);
    if (opts.simulatedReviewer) log(`  reviewer  ${REVIEWER} answers incidents`);

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
      const [stats, devices] = await Promise.all([api.stats(), api.listDevices()]);
      const frames = devices.items.reduce((n, d) => n + (d.telemetry?.framesTotal ?? 0), 0);
      return { stats, frames };
    };
    ticker = setInterval(() => {
      snapshot()
        .then(({ stats, frames }) =>
          log(
            `  online ${stats.devices.online}/${stats.devices.total} · frames ${frames} · events ${stats.events} · ` +
              `incidents ${stats.incidents} · notified ${stats.notifications.sent} · verdicts ${stats.verdicts}`,
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

    const { stats, frames } = await snapshot();
    const endedAt = new Date();
    const checks = {
      devicesOnline: stats.devices.online > 0,
      framesInspected: frames > 0,
      eventsStored: stats.events > 0,
      incidentsRaised: stats.incidents > 0,
      notificationsSent: stats.notifications.sent > 0 && smtp.mails.length > 0 && webhook.received.length > 0,
      webhookSignaturesValid: webhook.received.length > 0 && webhook.received.every((w) => w.signatureValid),
      verdictsStored: stats.verdicts > 0 || !opts.simulatedReviewer,
    };
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
      loopTurned: Object.values(checks).every(Boolean),
      checks,
    };
    if (opts.reportPath) await writeFile(opts.reportPath, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await shutdown();
  }
}
