import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, repoRoot, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** A real agent process with these flags; resolves with its exit code and what it printed. */
function runAgent(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "apps/agent/src/main.ts"), ...args], {
    cwd: repoRoot,
    env: { ...process.env, KENSA_DEVICE_SECRET: "status-flags-secret", KENSA_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString("utf8");
  });
  const exited = new Promise<number | string>((r) => child.once("exit", (code, sig) => r(code ?? sig ?? "?")));
  return { child, exited, output: () => out };
}

describe("kensa-agent --status-port / --status-host", () => {
  let dir: TempDir;
  let configPath: string;
  let filePort: number;
  beforeAll(async () => {
    dir = await tempDir();
    filePort = await freePort();
    configPath = join(dir.path, "agent.json");
    // the hub and broker are not there: the agent starts offline, its status server regardless
    const unreachable = await freePort();
    await writeFile(
      configPath,
      JSON.stringify({
        deviceId: "cam-status",
        hubUrl: `http://127.0.0.1:${unreachable}`,
        mqttUrl: `mqtt://127.0.0.1:${unreachable}`,
        dataDir: join(dir.path, "agent"),
        sources: [{ id: "line", type: "synthetic", fps: 2 }],
        status: { port: filePort, host: "0.0.0.0" },
      }),
    );
  });
  afterAll(async () => {
    await dir.remove();
  });

  it("serves the status page on the flag's port and host, not agent.json's", async () => {
    const port = await freePort();
    const agent = runAgent(["--config", configPath, "--status-port", String(port), "--status-host", "127.0.0.1"]);
    try {
      await waitFor(
        "the status server on the flag's port",
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok === true,
        { timeoutMs: 60_000 },
      );
      expect(await fetch(`http://127.0.0.1:${filePort}/healthz`).catch(() => null)).toBeNull();
      await waitFor("the started log line", () => agent.output().includes('"agent started"'));
      expect(agent.output()).toContain(`"statusUrl":"http://127.0.0.1:${port}"`);
    } finally {
      agent.child.kill("SIGTERM");
      expect(await agent.exited).toBe(0);
    }
  }, 90_000);

  it("refuses a port that is not one, naming /status/port", async () => {
    const agent = runAgent(["--config", configPath, "--status-port", "99999", "--validate-config"]);
    expect(await agent.exited).toBe(1);
    expect(agent.output()).toContain("KENSA_ERR_CONFIG_INVALID");
    expect(agent.output()).toContain("/status/port");
  }, 60_000);
});
