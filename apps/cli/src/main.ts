import { fleetRoutes, projectRoutes } from "@kensa/contracts";
import { Command, Option } from "commander";
import { reportError } from "./cli-errors.js";
import { intFlag, numberFlag, portFlag, useCallerCwd } from "./cli-input.js";
import { registerAuditCommands } from "./commands/audit-command.js";
import { registerBacktestCommands } from "./commands/backtest-command.js";
import { registerBlobMigrateCommand } from "./commands/blob-migrate-command.js";
import { registerCompletionCommand } from "./commands/completion-command.js";
import { registerDatasetCommands } from "./commands/dataset-command.js";
import { enrollmentCsr, registerDeviceCertCommand, writeEnrolledCertificate } from "./commands/device-cert-command.js";
import { registerDeviceConfigCommands } from "./commands/device-config-command.js";
import { registerDeviceLifecycleCommands } from "./commands/device-lifecycle-command.js";
import { registerFsckCommand } from "./commands/fsck-command.js";
import { registerDeployLists, registerDeviceLists, registerProjectLists } from "./commands/list-commands.js";
import { registerModelCommands } from "./commands/model-command.js";
import {
  type AutoDeployFlags,
  autoDeployOptions,
  describeAutoDeploy,
  hasAutoDeployFlags,
  registerProjectUpdate,
  setAutoDeploy,
} from "./commands/project-auto-deploy.js";
import { registerProjectReferences } from "./commands/project-reference-command.js";
import { registerRetentionCommands } from "./commands/retention-command.js";
import { registerRolloutCommands } from "./commands/rollout-command.js";
import { registerRunCommands } from "./commands/run-command.js";
import { registerSealCommand } from "./commands/seal-command.js";
import { registerSigningCommands } from "./commands/signing-command.js";
import { registerSiteCommands } from "./commands/site-command.js";
import { registerStatusCommand } from "./commands/status-command.js";
import { registerSynthCommand } from "./commands/synth-command.js";
import { registerTrainCommand } from "./commands/train-command.js";
import { registerWorkerCommand } from "./commands/worker-command.js";
import type { DemoLogLevel } from "./demo.js";
import { parseDuration } from "./duration.js";
import { hubClientFrom } from "./hub-client.js";
import { resolveDevice, resolveModel, resolveProjectFlags } from "./resolve.js";

// under `npm run kensa -- …`, relative paths are the caller's, not the repository root's
useCallerCwd();

const program = new Command()
  .name("kensa")
  .description("Computer-vision inspection at the edge, with the whole MLOps loop around it")
  .showHelpAfterError();
// --project takes an id, a slug or a name wherever it appears
resolveProjectFlags(program);

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}
type CertFlag = HubFlags & { certificate?: string };
interface ProjectFlags extends HubFlags {
  slug: string;
  name: string;
  task: string;
  labels: string;
  okLabels: string;
  email: string;
  minScore: number;
}

const hubOpts = (cmd: Command) =>
  cmd
    .option("--hub <url>", "hub URL (env KENSA_HUB_URL)", undefined)
    .option("--token <token>", "admin token (env KENSA_ADMIN_TOKEN, else <data-dir>/admin-token)")
    .option("--data-dir <dir>", "the local hub's data dir, to find its admin token", ".kensa/hub");

program
  .command("hub")
  .description("run the hub: HTTP API, console, embedded MQTT broker, ingest, notifications")
  .option("-c, --config <file>", "hub config (JSON)")
  .option("--data-dir <dir>", "data directory")
  .option("--host <addr>", "address HTTP and the embedded broker bind (127.0.0.1 by default; 0.0.0.0: every interface)")
  .option("--port <n>", "HTTP port", portFlag("--port"))
  .option("--http-port <n>", "HTTP port (the same as --port)", portFlag("--http-port"))
  .option(
    "--mqtt-port <n>",
    "embedded MQTT broker port (1883 by default, a system Mosquitto's too)",
    portFlag("--mqtt-port"),
  )
  .option("--validate-config", "check the configuration and exit")
  .addOption(
    new Option("--log-level <level>", "log level (HTTP requests log at debug)").choices([
      ...["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    ]),
  )
  .addOption(
    new Option("--log-format <format>", "pretty on a terminal, JSON lines otherwise").choices(["json", "pretty"]),
  )
  .addHelpText(
    "after",
    `
Several replicas behind a load balancer (docs/replicas.md): give each the same config with
  database.type "postgres"       every replica on the same database and schema
  mqtt.embedded.enabled false    and mqtt.url: one external broker (shared subscriptions)
  mqtt.clientId                  one per replica (kensa-hub-<hostname> by default)
  dataDir                        the same directory on a shared filesystem (blobs, runs)
  http.publicUrl                 the load balancer's URL
Notifications, jobs and training triggers are claimed in the database with leases; a replica
that dies leaves its work to the others once they run out (notifications.leaseMs, training.leaseMs).`,
  )
  .action(
    async (o: {
      config?: string;
      dataDir?: string;
      host?: string;
      port?: number;
      httpPort?: number;
      mqttPort?: number;
      validateConfig?: boolean;
      logLevel?: string;
      logFormat?: string;
    }) => {
      const { createHub, loadHubConfig } = await import("@kensa/hub");
      const overrides: Record<string, unknown> = {};
      if (o.dataDir) overrides.dataDir = o.dataDir;
      if (o.logLevel) overrides.logLevel = o.logLevel;
      if (o.logFormat) overrides.logFormat = o.logFormat;
      const http: Record<string, unknown> = {};
      const embedded: Record<string, unknown> = {};
      if (o.host !== undefined) http.host = embedded.host = o.host;
      if (o.port !== undefined) http.port = o.port;
      if (o.httpPort !== undefined) http.port = o.httpPort;
      if (o.mqttPort !== undefined) embedded.port = o.mqttPort;
      if (Object.keys(http).length) overrides.http = http;
      if (Object.keys(embedded).length) overrides.mqtt = { embedded };
      const config = await loadHubConfig(o.config, process.env, overrides);
      if (o.validateConfig) {
        console.log("hub config OK");
        return;
      }
      const hub = await createHub(config);
      const { httpUrl, mqttUrl } = await hub.start();
      console.log(`kensa hub listening: ${httpUrl} (MQTT ${mqttUrl})`);
      for (const l of hub.plainListeners) {
        console.warn(
          `WARNING: ${l} serves without TLS to the network: passwords and device secrets cross it in clear text`,
        );
      }
      // new certificate files (a renewal) are taken without a restart
      process.on("SIGHUP", () => {
        hub.reloadTls().catch((err: Error) => console.error(`certificates not reloaded: ${err.message}`));
      });
      if (hub.initialAdminPassword) {
        console.log(
          `first start: sign in to the console as admin / ${hub.initialAdminPassword} (also in the data dir's admin-password, deleted once you change the password)`,
        );
      }
      const stop = () => {
        void hub.close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    },
  );

program
  .command("agent")
  .description("run an edge agent (same as the kensa-agent executable)")
  .allowUnknownOption(true)
  .helpOption(false)
  .argument("[args...]")
  .action(async (args: string[]) => {
    const { runAgentCli } = await import("@kensa/agent");
    process.exitCode = await runAgentCli(args);
  });

const project = program.command("project").description("inspection projects");
hubOpts(
  autoDeployOptions(project.command("create"))
    .requiredOption("--slug <slug>")
    .requiredOption("--name <name>")
    .addOption(
      new Option("--task <task>")
        .choices(["classification", "detection", "segmentation", "anomaly"])
        .makeOptionMandatory(),
    )
    .requiredOption("--labels <list>", "comma-separated labels")
    .option("--ok-labels <list>", "comma-separated labels that mean OK", "")
    .option("--email <list>", "comma-separated e-mail recipients of incidents", "")
    .option("--min-score <n>", "incident threshold", numberFlag("--min-score", { min: 0, max: 1 }), 0.5),
).action(async (o: ProjectFlags & AutoDeployFlags) => {
  const split = (s: string) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
  const p = await hubClientFrom(o).call(projectRoutes.create, {
    body: {
      slug: o.slug,
      name: o.name,
      task: o.task as "classification",
      labels: split(o.labels),
      okLabels: split(o.okLabels),
      rule: { type: "threshold", labels: [], minScore: o.minScore },
      notifications: { email: split(o.email), webhooks: [], cooldownSec: 300 },
    },
  });
  console.log(JSON.stringify(p, null, 2));
  // on stderr: stdout stays the project's JSON
  if (hasAutoDeployFlags(o)) {
    const target = await setAutoDeploy(hubClientFrom(o), p.id, o);
    console.error(`auto-deploy target: ${describeAutoDeploy(target)}`);
  } else console.error(`auto-deploy target: none; set one with kensa project update ${p.slug} --auto-deploy-tag <tag>`);
});

const device = program.command("device").description("edge devices");
registerDeviceCertCommand(device);
registerDeviceConfigCommands(device, hubOpts);
hubOpts(
  device
    .command("enroll")
    .requiredOption("--project <project>", "project id, slug or name")
    .option("--id <id>", "device id (generated when omitted)")
    .option("--name <name>")
    .option("--tag <tag...>", "tags (repeatable)", [] as string[])
    .option("--arch <arch>", "x64 | arm64 | armv7")
    .option("--certificate <dir>", "also issue a client certificate (mTLS); its key is made here, written into <dir>"),
).action(async (o: { project: string; id?: string; name?: string; tag: string[]; arch?: string } & CertFlag) => {
  const req = o.certificate ? await enrollmentCsr(o.id) : null;
  const e = await hubClientFrom(o).call(fleetRoutes.enroll, {
    body: {
      ...{ projectId: o.project, id: o.id, name: o.name, tags: o.tag, arch: o.arch as "x64" | undefined },
      ...(req ? { certificate: { csr: req.csr, days: 825 } } : {}),
    },
  });
  console.log(`device ${e.device.id} enrolled`);
  if (req && o.certificate && e.certificate)
    await writeEnrolledCertificate(o.certificate, e.device.id, e.certificate, req.key);
  console.log(`secret (shown once, store it now): ${e.secret}`);
  console.log(`start its agent with:\n  KENSA_DEVICE_SECRET=${e.secret} ${e.command}`);
});

const deploy = hubOpts(
  program
    .command("deploy")
    .description("assign a model version to devices or tags; deploy list | show")
    .argument("<model>", "model version id, or <name>@<version>")
    .option("--device <device...>", "device ids or names", [] as string[])
    .option("--tag <tag...>", "device tags", [] as string[])
    .option("--pipeline <id>", "pipeline on the device", "default")
    .addOption(
      new Option("--precision <precision>", "model file per device: auto ships int8 where the gate allowed it")
        .choices(["auto", "fp32", "int8"])
        .default("auto"),
    )
    .option(
      "--shadow",
      "run it as the pipeline's shadow beside what the devices run: same frames, no incidents, agreement reported (a candidate may be a shadow)",
    ),
).action(
  async (
    ref: string,
    o: { device: string[]; tag: string[]; pipeline: string; precision: string; shadow?: boolean } & HubFlags,
  ) => {
    const client = hubClientFrom(o);
    const model = await resolveModel(client, ref);
    const deviceIds: string[] = [];
    for (const d of o.device) deviceIds.push((await resolveDevice(client, d)).id);
    const d = await client.call(fleetRoutes.createDeployment, {
      body: {
        modelVersionId: model.id,
        pipeline: o.pipeline,
        target: { deviceIds, tags: o.tag },
        precision: o.precision as "auto",
        ...(o.shadow ? { shadow: true } : {}),
      },
    });
    console.log(
      `${d.shadow ? "shadow " : ""}deployment ${d.id}: bundle ${d.bundleSha256.slice(0, 12)} → ${d.deviceIds.join(", ")}`,
    );
    // one bundle per target: say which device got which
    for (const t of d.targets ?? []) {
      const { arch, precision, runtime } = t.target;
      console.log(`  ${t.deviceId}: ${arch} ${precision} ${runtime} (bundle ${t.bundleSha256.slice(0, 12)})`);
    }
  },
);

registerProjectLists(project, hubOpts);
registerProjectUpdate(project, hubOpts);
registerProjectReferences(project, hubOpts);
registerDeviceLists(device, hubOpts);
registerDeviceLifecycleCommands(device, hubOpts);
registerDeployLists(deploy, hubOpts);
registerRunCommands(program, hubOpts);
registerFsckCommand(program);
registerBlobMigrateCommand(program);
registerSealCommand(program);
registerSynthCommand(program);
registerSigningCommands(program, hubOpts);
registerWorkerCommand(program);
registerStatusCommand(program, hubOpts);
registerCompletionCommand(program);
registerDatasetCommands(program, hubOpts);
registerModelCommands(program, hubOpts);
registerBacktestCommands(program, hubOpts);
registerTrainCommand(program, hubOpts);
registerRetentionCommands(program, hubOpts);
registerRolloutCommands(program, hubOpts);
registerAuditCommands(program, hubOpts);
registerSiteCommands(program, hubOpts);

program
  .command("demo")
  .description("the whole loop on this machine: hub, simulated cameras and devices, a real model, a reviewer")
  .option("--devices <n>", "number of agents", intFlag("--devices"), 2)
  .option("--fps <n>", "frames per second per camera", numberFlag("--fps", { min: 0.01 }), 2)
  .option("--defect-rate <r>", "share of frames with a defect", numberFlag("--defect-rate", { min: 0, max: 1 }), 0.3)
  .option("--for <duration>", "run this long (e.g. 60s, 5m), then report and exit")
  .option("--report <file>", "write a JSON report of the run (needs --for or Ctrl-C)")
  .option("--port <n>", "HTTP port (0 = any free port)", portFlag("--port"), 0)
  .option("--mqtt-port <n>", "MQTT port (0 = any free port)", portFlag("--mqtt-port"), 0)
  .option("--data-dir <dir>", "demo data (wiped at start)", ".kensa/demo")
  .option("--no-reviewer", "do not answer incidents automatically")
  .option(
    "--retrain-after <n>",
    "retrain after this many new reviewed labels (verdicts)",
    intFlag("--retrain-after"),
    25,
  )
  .option("--train-frames <n>", "synthetic frames the first model trains on", intFlag("--train-frames"), 1200)
  .addOption(
    new Option("--log-level <level>", "the hub's and agents' log level")
      .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("warn"),
  )
  .action(
    async (o: {
      devices: number;
      fps: number;
      defectRate: number;
      for?: string;
      report?: string;
      port: number;
      mqttPort: number;
      dataDir: string;
      reviewer: boolean;
      retrainAfter: number;
      trainFrames: number;
      logLevel: DemoLogLevel;
    }) => {
      // loaded when asked for: it starts a hub and agents, which no other command needs
      const { runDemo } = await import("./demo.js");
      const { printDemoSummary } = await import("./demo-report.js");
      const report = await runDemo({
        devices: o.devices,
        fps: o.fps,
        defectRate: o.defectRate,
        dataDir: o.dataDir,
        forMs: o.for ? parseDuration(o.for) : undefined,
        reportPath: o.report,
        httpPort: o.port,
        mqttPort: o.mqttPort,
        simulatedReviewer: o.reviewer,
        retrainAfter: o.retrainAfter,
        trainFrames: o.trainFrames,
        logLevel: o.logLevel,
      });
      printDemoSummary(report);
      // what happened during the run decides, not the state after shutdown
      if (!report.loopTurned) process.exitCode = 1;
    },
  );

program.parseAsync(process.argv).catch(reportError);
