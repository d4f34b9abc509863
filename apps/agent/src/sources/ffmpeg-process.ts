import { spawn } from "node:child_process";
import { KensaError } from "@kensa/contracts";
import type { PidFiles } from "./pid-files.js";

/** bytes of ffmpeg's stderr kept for error messages */
const stderrKeep = 8192;

export interface FfmpegRunOptions {
  ffmpegPath: string;
  args: readonly string[];
  /** abort to stop the child: SIGTERM, then SIGKILL after `killGraceMs` */
  signal: AbortSignal;
  onStdout(chunk: Buffer): void;
  onSpawn?(pid: number): void;
  /** ms between SIGTERM and SIGKILL on abort */
  killGraceMs?: number;
  pidFiles?: PidFiles;
  /** pid file name */
  name: string;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the tail of stderr */
  stderr: string;
  /** the exit followed our abort */
  aborted: boolean;
}

/**
 * Runs one ffmpeg child to completion and resolves with how it exited (never rejects once
 * spawned, so the caller decides what an exit means). Resolves only after the child was
 * reaped and its pipes closed: no zombie, no orphan. If the agent itself is SIGKILLed the
 * child's next write to stdout fails with EPIPE and ffmpeg exits; network inputs get I/O
 * timeouts so a child blocked on a dead camera reaches that write too.
 */
export async function runFfmpeg(o: FfmpegRunOptions): Promise<FfmpegExit> {
  if (o.signal.aborted) return { code: null, signal: null, stderr: "", aborted: true };
  const child = spawn(o.ffmpegPath, o.args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let spawnError: NodeJS.ErrnoException | undefined;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (err: NodeJS.ErrnoException) => {
      spawnError ??= err;
      // a failed spawn emits "error" and no "close"
      if (child.pid === undefined) resolve({ code: null, signal: null });
    });
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  child.stdout.on("data", (chunk: Buffer) => o.onStdout(chunk));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
    if (stderr.length > stderrKeep) stderr = stderr.slice(-stderrKeep);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), o.killGraceMs ?? 2000);
  };
  o.signal.addEventListener("abort", onAbort, { once: true });
  const pid = child.pid;
  if (pid !== undefined) {
    o.onSpawn?.(pid);
    await o.pidFiles?.record(o.name, pid).catch(() => undefined);
  }
  const exit = await closed;
  clearTimeout(killTimer);
  o.signal.removeEventListener("abort", onAbort);
  if (pid !== undefined) await o.pidFiles?.remove(o.name, pid);
  if (spawnError && pid === undefined) {
    if (spawnError.code === "ENOENT" || spawnError.code === "EACCES") {
      throw new KensaError(
        "KENSA_ERR_FFMPEG_NOT_FOUND",
        `cannot run ffmpeg at "${o.ffmpegPath}" (${spawnError.code}); install ffmpeg or set ffmpegPath in the agent config`,
      );
    }
    throw new KensaError("KENSA_ERR_SOURCE_FAILED", `cannot start ffmpeg: ${spawnError.message}`);
  }
  return { ...exit, stderr, aborted: o.signal.aborted };
}

/** The last meaningful lines of ffmpeg's stderr, for an error message. */
export function stderrSummary(stderr: string, lines = 3): string {
  const kept = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^Last message repeated/.test(l));
  return kept.slice(-lines).join(" | ");
}
