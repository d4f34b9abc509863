import { parseWith } from "@kensa/contracts";
import { commandWorks, needService, waitFor } from "@kensa/testkit";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MjpegSourceConfig } from "../src/config.js";
import type { FrameSource } from "../src/sources/frame-source.js";
import { createSource } from "../src/sources/source-registry.js";
import { renderJpegs } from "./helpers/frames.js";
import { type MjpegServer, startMjpegServer } from "./helpers/mjpeg-server.js";
import { childrenOf } from "./helpers/procs.js";
import { watchSource } from "./helpers/source-events.js";

function mjpeg(extra: Record<string, unknown>): FrameSource {
  return createSource(parseWith(MjpegSourceConfig, { id: "cam", type: "mjpeg", ...extra }, "KENSA_ERR_CONFIG_INVALID"));
}

describe("mjpeg source, native reader (real HTTP)", () => {
  let frames: Buffer[];
  const cleanup: Array<() => Promise<void>> = [];
  const serve = async (o: Omit<Parameters<typeof startMjpegServer>[0], "frames">): Promise<MjpegServer> => {
    const server = await startMjpegServer({ frames, ...o });
    cleanup.push(() => server.close());
    return server;
  };
  const run = (source: FrameSource) => {
    cleanup.unshift(() => source.stop());
    source.start();
    return watchSource(source);
  };

  beforeAll(async () => {
    frames = await renderJpegs(6);
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  for (const contentLength of [true, false]) {
    it(`delivers the camera's JPEG bytes unchanged and in order (${contentLength ? "with" : "without"} Content-Length)`, async () => {
      const server = await serve({ fps: 40, contentLength });
      const w = run(mjpeg({ url: server.url }));
      await waitFor("12 frames", () => w.frames.length >= 12);
      const start = frames.findIndex((f) => f.equals(w.frames[0]?.image as Buffer));
      expect(start).toBeGreaterThanOrEqual(0);
      w.frames.slice(0, 12).forEach((f, i) => {
        expect(Buffer.from(f.image).equals(frames[(start + i) % frames.length] as Buffer), `frame ${i}`).toBe(true);
      });
      expect(w.frames[0]?.sourceId).toBe("cam");
      expect(w.restarts).toEqual([]);
    });
  }

  it("a stream that stops sending is stalled, then reconnected, and frames flow again", async () => {
    const server = await serve({ fps: 40, silentAfter: 3 });
    const source = mjpeg({ url: server.url, stallTimeoutMs: 400, restart: { backoffMs: 50 } });
    const w = run(source);
    await waitFor("a stall", () => w.stalled >= 1, { timeoutMs: 5000 });
    expect(w.restarts[0]?.error.code).toBe("KENSA_ERR_SOURCE_STALLED");
    expect(w.restarts[0]?.error.message).toMatch(/no frame for \d+ ms \(stall timeout 400 ms\)/);
    await waitFor("a reconnect with frames", () => w.reconnected >= 1 && w.frames.length >= 6, { timeoutMs: 5000 });
    expect(server.connections).toBeGreaterThanOrEqual(2);
    expect(["running", "error"]).toContain(source.status);
  });

  it("an HTTP error or a non-MJPEG answer is a clear source error", async () => {
    const server = await serve({ fps: 10, status: 401 });
    const source = mjpeg({ url: server.url.replace("http://", "http://admin:hunter2@"), restart: { backoffMs: 50 } });
    const w = run(source);
    await waitFor("an error", () => w.restarts[0]);
    expect(source.status).toBe("error");
    expect(source.lastError?.code).toBe("KENSA_ERR_SOURCE_FAILED");
    expect(source.lastError?.message).toMatch(/answered HTTP 401 Unauthorized/);
    // credentials never reach logs or reported state
    expect(source.lastError?.message).not.toContain("hunter2");
    expect(source.lastError?.message).toContain("admin:***@");

    const refused = run(mjpeg({ id: "gone", url: "http://127.0.0.1:9/video.mjpg", restart: { backoffMs: 50 } }));
    await waitFor("an error", () => refused.restarts[0]);
    expect(refused.restarts[0]?.error.message).toMatch(
      /cannot read http:\/\/127\.0\.0\.1:9\/video\.mjpg: .*ECONNREFUSED/,
    );
  });
});

const skipFfmpeg = needService("ffmpeg", commandWorks("ffmpeg", ["-hide_banner", "-version"]));

describe.skipIf(skipFfmpeg)("mjpeg source, ffmpeg reader (real ffmpeg, real HTTP)", () => {
  it("decodes the stream through ffmpeg at a capped fps and leaves no ffmpeg behind", async () => {
    const server = await startMjpegServer({ frames: await renderJpegs(6, 96, 64), fps: 25 });
    const source = mjpeg({ url: server.url, reader: "ffmpeg", fps: 5 });
    const w = watchSource(source);
    try {
      source.start();
      await waitFor("frames through ffmpeg", () => w.frames.length >= 4, { timeoutMs: 10_000 });
      const meta = await sharp(w.frames[0]?.image).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 96, 64]);
      expect(childrenOf(process.pid).length).toBe(1);
    } finally {
      await source.stop();
      await server.close();
    }
    expect(childrenOf(process.pid)).toEqual([]);
    expect(w.restarts).toEqual([]);
  });
});
