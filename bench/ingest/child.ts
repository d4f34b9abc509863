/** Child processes of the ingest bench: forked TypeScript entries with IPC, and their CPU time. */
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { readFileSync } from "node:fs";

/** Starts `file` (TypeScript, through tsx) with an IPC channel; its output goes to a ring of recent lines. */
export function forkTs(
  file: string,
  args: string[] = [],
  onLine?: (line: string) => void,
): { child: ChildProcess; output: () => string } {
  const child = fork(file, args, {
    // KENSA_BENCH_CPU_PROF=<dir>: every child writes a V8 CPU profile there (open it in Chrome's DevTools)
    execArgv: [
      "--import",
      "tsx",
      ...(process.env.KENSA_BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.KENSA_BENCH_CPU_PROF}`] : []),
    ],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, KENSA_LOG_LEVEL: process.env.KENSA_LOG_LEVEL ?? "warn" },
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    if (process.env.KENSA_BENCH_VERBOSE) process.stderr.write(chunk);
    const got = chunk.toString("utf8").split("\n").filter(Boolean);
    if (onLine) for (const line of got) onLine(line);
    lines.push(...got);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, output: () => lines.join("\n") };
}

/** Resolves with the first IPC message of `type`; rejects when the child exits first or after `timeoutMs`. */
export function nextMessage<T extends { type: string }>(child: ChildProcess, type: T["type"], timeoutMs = 60_000) {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if ((m as { type?: string })?.type !== type) return;
      done();
      resolve(m as T);
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`child exited (${code ?? signal}) before sending "${type}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${type}" from the child within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** Ends a child: asks it with `message` when given, then SIGTERM, then SIGKILL, at most `graceMs` each. */
export async function stopChild(child: ChildProcess, message?: unknown, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const wait = (ms: number) =>
    Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  if (message !== undefined && child.connected) {
    child.send(message as never);
    if (await wait(graceMs)) return;
  }
  child.kill("SIGTERM");
  if (await wait(graceMs)) return;
  child.kill("SIGKILL");
  await exited;
}

let ticksPerSecond = 0;

/** µs of CPU (user + system) a process has used so far, from /proc/<pid>/stat (10 ms resolution). */
export function cpuMicros(pid: number): number {
  if (!ticksPerSecond) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // the command name (field 2) may hold spaces; fields after it are fixed: utime is 14th, stime 15th
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) * 1e6) / ticksPerSecond;
}

/** The machine's CPU time so far, all cores: busy (everything but idle and iowait) and total, in ticks (/proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}
