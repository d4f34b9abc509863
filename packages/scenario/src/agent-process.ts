import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// agents run from the repository root, as the CLI runs them
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface AgentProcess {
  child: ChildProcess;
  /** every JSON log line the agent printed so far */
  logs: Array<Record<string, unknown>>;
  /** resolves with the exit code or signal name */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts a real agent process with a config file written to `configPath`: the TypeScript entry
 * (`apps/agent/src/main.ts` through tsx) by default, or with `built` the installed executable
 * `apps/agent/bin/kensa-agent.mjs`, which runs the bundled plain-JavaScript agent when it is
 * up to date (what a device runs).
 */
export async function spawnAgent(
  config: Record<string, unknown>,
  configPath: string,
  env: Record<string, string> = {},
  opts: { built?: boolean } = {},
): Promise<AgentProcess> {
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const entry = opts.built
    ? [join(repoRoot, "apps/agent/bin/kensa-agent.mjs")]
    : ["--import", "tsx", join(repoRoot, "apps/agent/src/main.ts")];
  const child = spawn(process.execPath, [...entry, "--config", configPath], {
    cwd: repoRoot,
    env: { ...process.env, KENSA_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buf = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buf += chunk.toString("utf8");
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
      nl = buf.indexOf("\n");
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    if (process.env.KENSA_TEST_VERBOSE) process.stderr.write(chunk);
    logs.push({ level: "stderr", msg: chunk.toString("utf8") });
  });
  const exited = new Promise<number | string>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown"));
  });
  return {
    child,
    logs,
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
