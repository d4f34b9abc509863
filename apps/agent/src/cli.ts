import { parseArgs } from "node:util";
import { type Issue, isKensaError } from "@kensa/contracts";
import { type AgentConfig, type AgentConfigOverrides, loadAgentConfig } from "./config.js";
import { Logger, logLevels } from "./logger.js";

const usage = `Usage: kensa-agent [--config <file.json>] [options]

  --config <file>     agent config (JSON); flags below override it
  --hub <url>         hub HTTP base URL              (hubUrl)
  --mqtt <url>        broker URL, e.g. mqtt://hub:1883 (mqttUrl)
  --device <id>       device id                      (deviceId)
  --data-dir <dir>    outbox, media and bundles      (dataDir)
  --synthetic <fps>   add a synthetic camera source at this frame rate
  --folder <dir>      add a folder source (images in name order, looping)
  --status-port <n>   status page, /metrics and push port; 0 picks a free one (status.port)
  --status-host <a>   address the status server binds, e.g. 0.0.0.0  (status.host)
  --log-level <l>     debug | info | warn | error (env KENSA_LOG_LEVEL, else info)
  --validate-config   check the config, print OK or the errors, exit 0/1
  -h, --help

The device secret comes from env KENSA_DEVICE_SECRET (or KENSA_DEVICE_SECRET_FILE) or the file's
"secret". Logs are JSON lines on stdout; KENSA_LOG_LEVEL=debug|info|warn|error.`;

/**
 * The agent's command line: validates the config, starts the agent and runs until SIGINT or
 * SIGTERM, then shuts down cleanly. Resolves with the process exit code.
 */
export async function runAgentCli(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const level = args["log-level"];
  if (level !== undefined) {
    if (!(logLevels as readonly string[]).includes(level)) {
      process.stderr.write(`--log-level must be one of ${logLevels.join(", ")}, not "${level}"\n`);
      return 2;
    }
    // every logger of the agent takes its level from here when it is made
    process.env.KENSA_LOG_LEVEL = level;
  }
  const overrides: AgentConfigOverrides = {
    hubUrl: args.hub,
    mqttUrl: args.mqtt,
    deviceId: args.device,
    dataDir: args["data-dir"],
    // a number when it reads as one; otherwise the config check names /status/port and the value
    status: { port: numeric(args["status-port"]), host: args["status-host"] },
    sources: [
      ...(args.synthetic ? [{ id: "synthetic", type: "synthetic", fps: Number(args.synthetic) }] : []),
      ...(args.folder ? [{ id: "folder", type: "folder", path: args.folder }] : []),
    ],
  };
  const log = new Logger();
  let config: AgentConfig;
  try {
    config = loadAgentConfig(args.config ?? {}, overrides, process.env);
  } catch (err) {
    if (!isKensaError(err)) throw err;
    if (args["validate-config"]) {
      const issues = (err.details as { issues?: Issue[] } | undefined)?.issues;
      const lines = issues?.length ? issues.map((i) => `  ${i.path}: ${i.message}`) : [`  ${err.message}`];
      process.stderr.write(`${err.code}: agent config is invalid\n${lines.join("\n")}\n`);
    } else {
      log.error(err.message, { code: err.code });
    }
    return 1;
  }
  if (args["validate-config"]) {
    process.stdout.write("OK\n");
    return 0;
  }

  // listening before the start: a stop asked for while the agent starts (loading its bundles,
  // recovering its data dir) waits for the start to finish, then shuts down cleanly
  let stopAsked = false;
  let exitCode = 0;
  let wake: (() => void) | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn("second signal; exiting without a clean shutdown", { signal });
      process.exit(130);
    }
    log.info("shutting down", { signal });
    stopAsked = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    // imported late so --validate-config and --help never load ONNX Runtime or sharp
    const { runAgent } = await import("./remote-config/agent-host.js");
    const agentUpdate = await selfUpdate(config, log, (code) => {
      exitCode = code;
      stopAsked = true;
      wake?.();
    });
    const agent = await runAgent(config, { logger: log, agentUpdate });
    if (!stopAsked) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    agentUpdate.stop();
    await agent.stop().catch((err: unknown) => log.error("shutdown failed", { err }));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return exitCode;
}

/** The agent's self-update; `restart` stops the agent so the launcher starts the installed release. */
async function selfUpdate(config: AgentConfig, logger: Logger, restart: (exitCode: number) => void) {
  const { AgentSelfUpdate, agentRestartExitCode } = await import("./updates/agent-release-updater.js");
  const { agentVersion } = await import("./agent-version.js");
  const { deviceId, secret, hubUrl, dataDir } = config;
  const update = new AgentSelfUpdate({ deviceId, secret, hubUrl, dataDir, agentVersion, logger, env: process.env });
  update.onRestart(() => restart(agentRestartExitCode));
  return update;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: "string" },
      hub: { type: "string" },
      mqtt: { type: "string" },
      device: { type: "string" },
      "data-dir": { type: "string" },
      synthetic: { type: "string" },
      folder: { type: "string" },
      "status-port": { type: "string" },
      "status-host": { type: "string" },
      "validate-config": { type: "boolean" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
}

const numeric = (v: string | undefined): number | string | undefined =>
  v !== undefined && /^\d+$/.test(v) ? Number(v) : v;
