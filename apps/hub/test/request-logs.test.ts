import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { formatLogLine } from "../src/logger.js";

const dir = await tempDir("kensa-request-logs-");
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await dir.remove();
});

/** `kensa hub` as a user starts it, on free ports; stdout collected. */
async function startHub(
  name: string,
  flags: string[],
): Promise<{ url: string; out: () => string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      ...["--import", "tsx", "apps/cli/src/main.ts", "hub", "--data-dir", join(dir.path, name)],
      ...["--port", "0", "--mqtt-port", "0", ...flags],
    ],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KENSA_LOG_LEVEL: "", KENSA_LOG_FORMAT: "" },
    },
  );
  children.push(child);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  const url = await waitFor("the hub listens", () => /kensa hub listening: (http:\/\/\S+)/.exec(out)?.[1], {
    timeoutMs: 60_000,
  });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    url,
    out: () => out,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map(
      (l) =>
        JSON.parse(l) as {
          level: number;
          msg: string;
          req?: { method: string; url: string };
          res?: { statusCode: number };
        },
    );

describe("hub logs", () => {
  it("requests are not logged at the default level; --log-level debug shows one line each, in JSON off a terminal", async () => {
    const quiet = await startHub("quiet", []);
    for (let i = 0; i < 5; i++) expect((await fetch(`${quiet.url}/health`)).status).toBe(200);
    expect((await fetch(`${quiet.url}/api/v1/projects`)).status).toBe(401);
    await quiet.stop();
    const lines = jsonLines(quiet.out());
    // the hub's own lines at info are there, JSON because stdout is a pipe
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.req || /request/.test(l.msg))).toEqual([]);

    const loud = await startHub("loud", ["--log-level", "debug"]);
    for (let i = 0; i < 3; i++) await fetch(`${loud.url}/health`);
    await fetch(`${loud.url}/api/v1/projects`);
    await waitFor(
      "the request lines",
      () => jsonLines(loud.out()).filter((l) => l.msg === "request completed").length >= 4,
    );
    await loud.stop();
    const completed = jsonLines(loud.out()).filter((l) => l.msg === "request completed");
    expect(completed.map((l) => [l.level, l.req?.method, l.req?.url, l.res?.statusCode])).toEqual([
      [20, "GET", "/health", 200],
      [20, "GET", "/health", 200],
      [20, "GET", "/health", 200],
      [20, "GET", "/api/v1/projects", 401],
    ]);
    // one line a request: "incoming request" is trace
    expect(jsonLines(loud.out()).filter((l) => l.msg === "incoming request")).toEqual([]);
  }, 120_000);

  it("--log-format pretty prints a line a person reads", async () => {
    const hub = await startHub("pretty", ["--log-level", "debug", "--log-format", "pretty"]);
    await fetch(`${hub.url}/health`);
    await waitFor("a pretty request line", () => hub.out().includes("request completed GET /health → 200"));
    await hub.stop();
    expect(hub.out()).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} DEBUG request completed GET \/health → 200 \(\d+\.\d ms\) reqId=\S+$/m,
    );
    expect(
      hub
        .out()
        .split("\n")
        .filter((l) => l.startsWith('{"level"')),
    ).toEqual([]);
  }, 120_000);

  it("formats levels, fields, requests and errors; passes through what is not JSON", () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
    expect(
      formatLogLine(
        JSON.stringify({ level: 40, time, pid: 1, hostname: "h", msg: "disk low", freeMb: 12, path: "/var/a b" }),
        false,
      ),
    ).toBe('03:04:05.067 WARN  disk low freeMb=12 path="/var/a b"\n');
    const err = formatLogLine(
      JSON.stringify({
        level: 50,
        time,
        msg: "boom",
        err: { type: "Error", message: "bad", stack: "Error: bad\n    at x" },
      }),
      false,
    );
    expect(err).toBe("03:04:05.067 ERROR boom\n  Error: bad\n      at x\n");
    expect(formatLogLine(JSON.stringify({ level: 30, time, msg: "hi" }), true)).toBe(
      "\x1b[90m03:04:05.067\x1b[0m \x1b[32mINFO \x1b[0m hi\n",
    );
    expect(formatLogLine("plain text", false)).toBe("plain text\n");
  });
});
