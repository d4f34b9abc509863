import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseWith } from "@kensa/contracts";
import { commandWorks, needService, spawnAgent, tempDir, waitFor } from "@kensa/testkit";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VideoSourceConfig } from "../src/config.js";
import type { FfmpegSource } from "../src/sources/ffmpeg-source.js";
import type { Frame, FrameSource, RestartInfo } from "../src/sources/frame-source.js";
import { PidFiles } from "../src/sources/pid-files.js";
import { createSource } from "../src/sources/source-registry.js";
import { childrenOf, exists, isRunning } from "./helpers/procs.js";

const hasFfmpeg = commandWorks("ffmpeg", ["-hide_banner", "-version"]);
const skip = needService("ffmpeg", hasFfmpeg);

/** Writes a 3 s, 10 fps test video: H.264 in .mp4, or MJPEG in .avi where libx264 is missing. */
function makeVideo(dir: string): string {
  const x264 = execFileSync("ffmpeg", ["-hide_banner", "-encoders"], { encoding: "utf8" }).includes("libx264");
  const out = join(dir, x264 ? "clip.mp4" : "clip.avi");
  const codec = x264 ? ["-c:v", "libx264", "-pix_fmt", "yuv420p"] : ["-c:v", "mjpeg", "-q:v", "5"];
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=320x240:rate=10",
    "-t",
    "3",
    ...codec,
    out,
  ]);
  return out;
}

function video(extra: Record<string, unknown>, runDir?: string) {
  const config = parseWith(VideoSourceConfig, { id: "clip", type: "video", ...extra }, "KENSA_ERR_CONFIG_INVALID");
  return createSource(config, runDir ? { runDir } : {}) as FfmpegSource;
}

function collect(source: FrameSource) {
  const frames: Frame[] = [];
  const restarts: RestartInfo[] = [];
  let stalled = 0;
  let reconnected = 0;
  source.on("frame", (f) => frames.push(f));
  source.on("restart", (r) => restarts.push(r));
  source.on("stalled", () => stalled++);
  source.on("reconnected", () => reconnected++);
  return {
    frames,
    restarts,
    get stalled() {
      return stalled;
    },
    get reconnected() {
      return reconnected;
    },
  };
}

describe.skipIf(skip)("ffmpeg sources (real ffmpeg)", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let clip: string;

  beforeAll(async () => {
    dir = await tempDir();
    clip = makeVideo(dir.path);
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it("plays a video file at its native rate (≈ duration × fps frames) and at a capped fps, then ends", async () => {
    const native = video({ path: clip, realtime: true });
    const capped = video({ id: "capped", path: clip, realtime: false, fps: 5 });
    const a = collect(native);
    const b = collect(capped);
    let ended = 0;
    for (const s of [native, capped]) s.on("end", () => ended++);
    const started = performance.now();
    native.start();
    capped.start();
    await waitFor("both videos to end", () => ended === 2, { timeoutMs: 15_000 });
    const seconds = (performance.now() - started) / 1000;
    expect(a.frames.length).toBeGreaterThanOrEqual(28);
    expect(a.frames.length).toBeLessThanOrEqual(31);
    // -re: 3 s of video take about 3 s, not the few ms a decode takes
    expect(seconds).toBeGreaterThan(2.4);
    expect(b.frames.length).toBeGreaterThanOrEqual(14);
    expect(b.frames.length).toBeLessThanOrEqual(16);
    const meta = await sharp(a.frames[5]?.image).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 320, 240]);
    expect(a.frames.map((f) => f.meta.index).slice(0, 3)).toEqual([0, 1, 2]);
    expect(native.status).toBe("ended");
    expect(a.restarts).toEqual([]);
    await native.stop();
    await capped.stop();
    expect(childrenOf(process.pid)).toEqual([]);
  });

  it("comes back after its ffmpeg child is SIGKILLed, counting the restart; stop leaves no ffmpeg", async () => {
    const runDir = join(dir.path, "run");
    const source = video({ path: clip, loop: true, restart: { backoffMs: 100 } }, runDir);
    const c = collect(source);
    source.start();
    await waitFor("frames", () => c.frames.length >= 5);
    const first = source.pid as number;
    expect(first).toBeGreaterThan(0);
    // the pid file lets a restarted agent reap this child if we were SIGKILLed
    expect(readdirSync(runDir)).toEqual(["ffmpeg-clip.pid"]);
    process.kill(first, "SIGKILL");
    await waitFor("a restart", () => c.restarts.length === 1);
    expect(c.restarts[0]?.error.code).toBe("KENSA_ERR_SOURCE_FAILED");
    expect(c.restarts[0]?.error.message).toMatch(/ffmpeg was killed by SIGKILL reading .*clip/);
    const before = c.frames.length;
    await waitFor("frames again", () => c.reconnected === 1 && c.frames.length > before + 3);
    const second = source.pid as number;
    expect(second).not.toBe(first);
    expect(source.status).toBe("running");
    expect(source.restarts).toBe(1);
    expect(exists(first)).toBe(false); // reaped, not a zombie
    await source.stop();
    expect(source.status).toBe("stopped");
    expect(exists(second)).toBe(false);
    expect(childrenOf(process.pid)).toEqual([]);
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("over its restart budget a source is failed with a clear error, retries slowly, and recovers", async () => {
    const path = join(dir.path, "later.mp4");
    const source = video({
      path,
      loop: true,
      restart: { maxRestarts: 2, windowMs: 60_000, backoffMs: 20, backoffMaxMs: 40, failedRetryMs: 400 },
    });
    const c = collect(source);
    const statuses: string[] = [];
    source.on("status", (s) => statuses.push(s));
    source.start();
    await waitFor("failed", () => source.status === "failed");
    expect(c.restarts.length).toBe(3);
    expect(source.lastError?.code).toBe("KENSA_ERR_SOURCE_RESTART_BUDGET_EXHAUSTED");
    expect(source.lastError?.message).toMatch(/failed more than 2 times in 60 s; retrying every 400 ms/);
    // ffmpeg's own words about the input reach the operator
    expect(source.lastError?.message).toMatch(/later\.mp4: No such file or directory/);
    expect(statuses).toEqual(["starting", "error", "failed"]);

    copyFileSync(clip, path);
    await waitFor("recovered by the slow retry", () => source.status === "running" && c.frames.length > 0, {
      timeoutMs: 5000,
    });
    expect(source.lastError).toBeUndefined();
    expect(c.reconnected).toBe(1);
    await source.stop();
    expect(childrenOf(process.pid)).toEqual([]);
  });

  it("a missing ffmpeg executable is KENSA_ERR_FFMPEG_NOT_FOUND", async () => {
    const config = parseWith(VideoSourceConfig, { id: "x", type: "video", path: clip }, "KENSA_ERR_CONFIG_INVALID");
    const source = createSource(config, { ffmpegPath: join(dir.path, "no-ffmpeg-here") });
    const c = collect(source);
    source.start();
    await waitFor("an error", () => c.restarts[0]);
    expect(c.restarts[0]?.error.code).toBe("KENSA_ERR_FFMPEG_NOT_FOUND");
    expect(c.restarts[0]?.error.message).toMatch(/install ffmpeg or set ffmpegPath/);
    await source.stop();
  });

  it("startup reaps an orphaned ffmpeg named by a pid file, and never a recycled pid", async () => {
    const runDir = join(dir.path, "reap");
    const orphan = spawn(
      "ffmpeg",
      ["-hide_banner", "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc", "-f", "null", "-"],
      {
        stdio: "ignore",
      },
    );
    const exited = new Promise((resolve) => orphan.once("exit", (_code, signal) => resolve(signal)));
    const files = new PidFiles(runDir);
    await files.record("ffmpeg-cam", orphan.pid as number);
    // a file naming a pid that now belongs to another process (this test runner) must be left alone
    writeFileSync(join(runDir, "ffmpeg-old.pid"), JSON.stringify({ pid: process.pid, start: "1", comm: "ffmpeg" }));
    expect(await files.reap()).toBe(1);
    expect(await exited).toBe("SIGKILL");
    expect(existsSync(join(runDir, "ffmpeg-cam.pid"))).toBe(false);
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("an agent process stops its ffmpeg on SIGTERM, and its ffmpeg dies with it on SIGKILL", async () => {
    const config = {
      deviceId: "cam-ffmpeg",
      hubUrl: "http://127.0.0.1:9",
      mqttUrl: "mqtt://127.0.0.1:9",
      dataDir: join(dir.path, "agent"),
      sources: [{ id: "clip", type: "video", path: clip, loop: true }],
      status: { port: 0 },
    };
    const env = { KENSA_DEVICE_SECRET: "s", KENSA_LOG_LEVEL: "info" };
    const gentle = await spawnAgent(config, join(dir.path, "agent.json"), env);
    const pid = gentle.child.pid as number;
    const [child] = await waitFor(
      "the agent's ffmpeg",
      () =>
        childrenOf(pid, "ffmpeg", "image2pipe").length === 1 ? childrenOf(pid, "ffmpeg", "image2pipe") : undefined,
      {
        timeoutMs: 20_000,
      },
    );
    expect(await gentle.kill("SIGTERM")).toBe(0);
    expect(isRunning(child as number)).toBe(false);
    expect(gentle.logs.some((l) => l.msg === "agent stopped")).toBe(true);

    // a stop asked for while the agent starts (here: right after it found ffmpeg) waits for the
    // start, then shuts down cleanly instead of dying of the signal
    const early = await spawnAgent(config, join(dir.path, "agent.json"), env);
    early.child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ffmpeg found")) early.child.kill("SIGTERM");
    });
    const earlyExit = await new Promise((resolve) =>
      early.child.once("exit", (code, signal) => resolve(signal ?? code)),
    );
    expect(earlyExit).toBe(0);
    expect(early.logs.some((l) => l.msg === "agent stopped")).toBe(true);

    const killed = await spawnAgent(config, join(dir.path, "agent.json"), env);
    const kpid = killed.child.pid as number;
    const [orphan] = await waitFor(
      "the agent's ffmpeg",
      () =>
        childrenOf(kpid, "ffmpeg", "image2pipe").length === 1 ? childrenOf(kpid, "ffmpeg", "image2pipe") : undefined,
      {
        timeoutMs: 20_000,
      },
    );
    expect(await killed.kill("SIGKILL")).toBe("SIGKILL");
    // ffmpeg's next frame hits a closed pipe (EPIPE) and it exits on its own
    await waitFor("the orphaned ffmpeg to exit", () => !isRunning(orphan as number), { timeoutMs: 5000 });
  });
});
