/** A Mosquitto of the bench's own on a free port of 127.0.0.1 (never the system one on 1883). */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { commandWorks, dynsecInitialState, findDynsecPlugin, freePort, tcpReachable, waitFor } from "@kensa/testkit";

export interface BenchMosquitto {
  url: string;
  pid: number;
  /** the dynamic-security admin the hub manages device accounts with; null on an anonymous broker */
  dynsecAdmin: { username: string; password: string } | null;
  close(): Promise<void>;
}

export function mosquittoAvailable(): boolean {
  // `mosquitto -h` exits 3 after printing its usage; a missing binary throws ENOENT instead
  return commandWorks("sh", ["-c", "command -v mosquitto"]);
}

/** The dynamic-security plugin of the installed Mosquitto, or null. */
export const dynsecPlugin = findDynsecPlugin;

/**
 * With `dynsecPlugin`, devices and hubs authenticate through dynamic security (the hub keeps
 * the device accounts); without it, access is anonymous. Mosquitto drops QoS 1 messages past
 * `max_queued_messages` (1000 by default) for a subscriber that falls behind; the bench raises it
 * so a busy hub is measured, not the broker's default queue.
 */
export async function startMosquitto(dir: string, dynsec: string | null = null): Promise<BenchMosquitto> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  const admin = dynsec ? { username: "kensa-admin", password: randomBytes(12).toString("base64url") } : null;
  const lines = ["per_listener_settings false", `listener ${port} 127.0.0.1`];
  if (dynsec && admin) {
    const file = join(dir, `dynsec-${port}.json`);
    await writeFile(file, dynsecInitialState(admin.username, admin.password));
    lines.push("allow_anonymous false", `plugin ${dynsec}`, `plugin_opt_config_file ${file}`);
  } else {
    lines.push("allow_anonymous true");
  }
  // when run as root Mosquitto drops to this user: it stays the owner of the temp folder
  lines.push("max_queued_messages 1000000", "persistence false", `user ${userInfo().username}`, "log_type error", "");
  await writeFile(conf, lines.join("\n"));
  const child: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitFor(`mosquitto on port ${port}`, () => child.exitCode === null && tcpReachable("127.0.0.1", port, 200), {
      timeoutMs: 10_000,
    });
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}: ${stderr}`);
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    dynsecAdmin: admin,
    close: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
