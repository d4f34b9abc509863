import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseWith } from "@kensa/contracts";
import { commandWorks, needService, waitFor } from "@kensa/testkit";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { RtspSourceConfig } from "../src/config.js";
import { packagedFfmpegPath } from "../src/sources/ffmpeg-binary.js";
import type { FrameSource } from "../src/sources/frame-source.js";
import { createSource } from "../src/sources/source-registry.js";
import { childrenOf } from "./helpers/procs.js";
import { watchSource } from "./helpers/source-events.js";

// A real RTSP server: GStreamer's rtsp-server library through Debian's python3-gi
// (helpers/rtsp_server.py), serving RTP/JPEG the way many IP cameras do.
const python = process.env.KENSA_PYTHON ?? "/usr/bin/python3";
const hasRtspServer = commandWorks(python, [
  "-c",
  "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer",
]);
const hasFfmpeg = commandWorks("ffmpeg", ["-hide_banner", "-version"]);
const skip = needService("ffmpeg", hasFfmpeg) || needService("GStreamer RTSP server (python3-gi)", hasRtspServer);
const packaged = packagedFfmpegPath();
const skipPackage = needService("the ffmpeg npm package (@ffmpeg-installer/ffmpeg)", packaged !== null);

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface RtspServer {
  url: (credentials?: string) => string;
  stop(): Promise<void>;
}

async function startRtspServer(port: number, fps: number, credentials?: string): Promise<RtspServer> {
  const child: ChildProcess = spawn(
    python,
    [
      join(import.meta.dirname, "helpers", "rtsp_server.py"),
      String(port),
      String(fps),
      ...(credentials ? [credentials] : []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      if (c.toString().includes("READY")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`rtsp server exited ${code}: ${err}`)));
  });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    url: (cred) => `rtsp://${cred ? `${cred}@` : ""}127.0.0.1:${port}/cam`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

function rtsp(extra: Record<string, unknown>): FrameSource {
  return createSource(parseWith(RtspSourceConfig, { id: "door", type: "rtsp", ...extra }, "KENSA_ERR_CONFIG_INVALID"));
}

describe.skipIf(skip)("rtsp source (real RTSP server, real ffmpeg)", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it("reads a live RTSP camera over TCP, at a capped fps", async () => {
    const server = await startRtspServer(await freePort(), 20);
    cleanup.push(() => server.stop());
    const source = rtsp({ url: server.url(), fps: 5 });
    cleanup.unshift(() => source.stop());
    const c = watchSource(source);
    const started = performance.now();
    source.start();
    await waitFor("8 frames", () => c.frames.length >= 8, { timeoutMs: 15_000 });
    // 20 fps from the camera, 5 decoded: 8 frames take well over a second
    expect((performance.now() - started) / 1000).toBeGreaterThan(1.2);
    const meta = await sharp(c.frames[3]?.image).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 320, 240]);
    expect(c.frames[0]?.sourceId).toBe("door");
    expect(source.status).toBe("running");
    expect(c.restarts).toEqual([]);
  });

  it.skipIf(skipPackage)(
    "reads it through the npm package's ffmpeg too (a release-4 build: its RTSP I/O timeout is -stimeout)",
    async () => {
      const server = await startRtspServer(await freePort(), 10);
      cleanup.push(() => server.stop());
      const config = parseWith(
        RtspSourceConfig,
        { id: "door", type: "rtsp", url: server.url() },
        "KENSA_ERR_CONFIG_INVALID",
      );
      const source = createSource(config, { ffmpegPath: packaged as string });
      cleanup.unshift(() => source.stop());
      const c = watchSource(source);
      source.start();
      await waitFor("frames", () => c.frames.length >= 5, { timeoutMs: 15_000 });
      expect(c.restarts).toEqual([]);
    },
  );

  it("when the camera goes away the source stalls and reconnects, and frames flow again", async () => {
    const port = await freePort();
    let server = await startRtspServer(port, 10);
    cleanup.push(() => server.stop());
    const source = rtsp({ url: server.url(), stallTimeoutMs: 4000, restart: { backoffMs: 200, backoffMaxMs: 400 } });
    cleanup.unshift(() => source.stop());
    const c = watchSource(source);
    source.start();
    await waitFor("frames", () => c.frames.length >= 5, { timeoutMs: 15_000 });
    await server.stop();
    await waitFor("the loss noticed", () => c.restarts.length >= 1, { timeoutMs: 10_000 });
    expect(["KENSA_ERR_SOURCE_STALLED", "KENSA_ERR_SOURCE_FAILED"]).toContain(c.restarts[0]?.error.code);
    const before = c.frames.length;
    server = await startRtspServer(port, 10);
    await waitFor("frames again", () => c.reconnected >= 1 && c.frames.length > before + 5, { timeoutMs: 20_000 });
    expect(source.status).toBe("running");
  });

  it("wrong credentials are a clear source error that never shows the password", async () => {
    const server = await startRtspServer(await freePort(), 10, "admin:s3cret");
    cleanup.push(() => server.stop());
    const good = rtsp({ url: server.url("admin:s3cret") });
    cleanup.unshift(() => good.stop());
    const g = watchSource(good);
    good.start();
    await waitFor("frames with the right password", () => g.frames.length >= 3, { timeoutMs: 15_000 });

    const bad = rtsp({ url: server.url("admin:hunter2"), restart: { backoffMs: 100 } });
    cleanup.unshift(() => bad.stop());
    const b = watchSource(bad);
    bad.start();
    await waitFor("an error", () => b.restarts[0], { timeoutMs: 10_000 });
    expect(b.restarts[0]?.error.code).toBe("KENSA_ERR_SOURCE_FAILED");
    expect(b.restarts[0]?.error.message).toMatch(/401 Unauthorized/);
    expect(b.restarts[0]?.error.message).not.toContain("hunter2");
    expect(b.frames).toEqual([]);
  });

  it("stopping leaves no ffmpeg behind", async () => {
    const server = await startRtspServer(await freePort(), 10);
    cleanup.push(() => server.stop());
    const source = rtsp({ url: server.url() });
    const c = watchSource(source);
    source.start();
    await waitFor("frames", () => c.frames.length >= 2, { timeoutMs: 15_000 });
    await source.stop();
    expect(childrenOf(process.pid)).toEqual([]);
  });
});
