import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { type AgentStatus, agentStatusRoutes, parseWith } from "@kensa/contracts";
import { commandWorks, needService, tempDir, waitFor } from "@kensa/testkit";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "../src/agent.js";
import { loadAgentConfig, VideoSourceConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import { packagedFfmpegPath, parseFfmpegVersion, resolveFfmpeg } from "../src/sources/ffmpeg-binary.js";
import { createSource } from "../src/sources/source-registry.js";
import { watchSource } from "./helpers/source-events.js";

const packaged = packagedFfmpegPath();
const skipPackage = needService("the ffmpeg npm package (@ffmpeg-installer/ffmpeg)", packaged !== null);
const skipSystem = needService("ffmpeg", commandWorks("ffmpeg", ["-hide_banner", "-version"]));

describe("ffmpeg version lines", () => {
  it("reads the release line from numbered releases and, for snapshot builds, from libavformat", () => {
    expect(parseFfmpegVersion("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024")).toEqual({
      version: "5.1.6-0+deb12u1",
      major: 5,
    });
    expect(parseFfmpegVersion("ffmpeg version n6.1 Copyright")?.major).toBe(6);
    expect(parseFfmpegVersion("ffmpeg version 4.3.6-0+deb11u1")?.major).toBe(4);
    const snapshot = [
      "ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/",
      "libavutil      56. 24.101 / 56. 24.101",
      "libavformat    58. 24.101 / 58. 24.101",
    ].join("\n");
    expect(parseFfmpegVersion(snapshot)).toEqual({ version: "N-47683-g0e8eb07980-static", major: 4 });
    expect(parseFfmpegVersion("ffmpeg version N-115000-gabc\nlibavformat    61.  1.100")?.major).toBe(7);
    expect(parseFfmpegVersion("ffmpeg version N-1-gabc (no library lines)")).toBeNull();
    expect(parseFfmpegVersion("sh: ffmpeg: not found")).toBeNull();
  });
});

describe("which ffmpeg runs", () => {
  let empty: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    empty = await tempDir();
  });
  afterAll(async () => {
    await empty?.remove();
  });
  const noPath = () => ({ ...process.env, PATH: empty.path });

  it.skipIf(skipSystem)("auto takes ffmpeg on PATH first", async () => {
    const found = await resolveFfmpeg("auto", { packaged: () => "/nowhere/ffmpeg" });
    expect(found).toMatchObject({ path: "ffmpeg", from: "system" });
    expect(found.major).toBeGreaterThanOrEqual(4);
  });

  it.skipIf(skipPackage)("auto falls back to the npm package's binary when PATH has none", async () => {
    const found = await resolveFfmpeg("auto", { env: noPath() });
    expect(found).toMatchObject({ path: packaged, from: "package", major: 4 });
    // "package" takes it even when the system has one
    expect(await resolveFfmpeg("package")).toMatchObject({ path: packaged, from: "package" });
  });

  it("names what it tried when no ffmpeg runs", async () => {
    const none = resolveFfmpeg("auto", { env: noPath(), packaged: () => null });
    await expect(none).rejects.toMatchObject({
      code: "KENSA_ERR_FFMPEG_NOT_FOUND",
      message: expect.stringMatching(/ffmpeg on PATH.*@ffmpeg-installer\/ffmpeg: not installed/),
    });
    await expect(resolveFfmpeg(join(empty.path, "ffmpeg"))).rejects.toMatchObject({
      code: "KENSA_ERR_FFMPEG_NOT_FOUND",
      message: expect.stringContaining(join(empty.path, "ffmpeg")),
    });
    // a program that is not ffmpeg is not taken for one
    await expect(resolveFfmpeg(process.execPath)).rejects.toMatchObject({ code: "KENSA_ERR_FFMPEG_NOT_FOUND" });
  });

  it.skipIf(skipPackage)("a video source decodes through the package's ffmpeg", async () => {
    const ffmpeg = packaged as string;
    const clip = join(empty.path, "clip.mp4");
    // the package's static build carries libx264, so it makes its own test video
    execFileSync(ffmpeg, [
      ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10"],
      ...["-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip],
    ]);
    const config = parseWith(
      VideoSourceConfig,
      { id: "pkg", type: "video", path: clip, realtime: false, loop: false },
      "KENSA_ERR_CONFIG_INVALID",
    );
    const source = createSource(config, { ffmpegPath: ffmpeg });
    const c = watchSource(source);
    try {
      source.start();
      await waitFor("the whole clip", () => c.frames.length >= 20, { timeoutMs: 15_000 });
      const meta = await sharp(c.frames[5]?.image).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 320, 240]);
      expect(c.restarts).toEqual([]);
    } finally {
      await source.stop();
    }
  });

  it("an agent without any ffmpeg runs its other sources and says why the video one cannot", async () => {
    const agent = await startAgent(
      loadAgentConfig({
        deviceId: "cam-noff",
        secret: "s",
        hubUrl: "http://127.0.0.1:9",
        mqttUrl: "mqtt://127.0.0.1:9",
        dataDir: join(empty.path, "agent"),
        ffmpegPath: join(empty.path, "no-ffmpeg-here"),
        sources: [
          { id: "line", type: "video", path: join(empty.path, "clip.mp4") },
          { id: "synth", type: "synthetic", fps: 5 },
        ],
        status: { port: 0 },
      }),
      { logger: new Logger("error", {}, () => undefined) },
    );
    try {
      const status = async () =>
        (await (await fetch(`${agent.statusUrl}${agentStatusRoutes.status.path}`)).json()) as AgentStatus;
      const s = await waitFor("the video source's error", async () => {
        const now = await status();
        return now.sources.find((x) => x.id === "line")?.error ? now : undefined;
      });
      expect(s.ffmpeg).toBeNull();
      expect(s.sources.find((x) => x.id === "line")?.error?.code).toBe("KENSA_ERR_FFMPEG_NOT_FOUND");
      await waitFor(
        "synthetic frames",
        async () => ((await status()).sources.find((x) => x.id === "synth")?.framesTotal ?? 0) > 2,
      );
    } finally {
      await agent.stop();
    }
  });
});
