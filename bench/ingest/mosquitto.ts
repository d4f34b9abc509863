/** A Mosquitto of the bench's own on a free port of 127.0.0.1 (never the system one on 1883). */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { commandWorks, tcpReachable, waitFor } from "@kensa/testkit";

export interface BenchMosquitto {
  url: string;
  pid: number;
  close(): Promise<void>;
}

export function mosquittoAvailable(): boolean {
  // `mosquitto -h` exits 3 after printing its usage; a missing binary throws ENOENT instead
  return commandWorks("sh", ["-c", "command -v mosquitto"]);
}

/** A free TCP port of 127.0.0.1 (free when asked; the broker binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address ? address.port : 0;
}

/**
 * Anonymous access, as devices have no credentials on this broker until the hub provisions them.
 * Mosquitto drops QoS 1 messages past `max_queued_messages` (1000 by default) for a subscriber that
 * falls behind; the bench raises it so a busy hub is measured, not the broker's default queue.
 */
export async function startMosquitto(dir: string): Promise<BenchMosquitto> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  await writeFile(
    conf,
    [`listener ${port} 127.0.0.1`, "allow_anonymous true", "max_queued_messages 1000000", "log_type error", ""].join(
      "\n",
    ),
  );
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
    close: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
