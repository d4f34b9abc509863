import { isKensaError } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { loadAgentConfig, type RtspSourceConfig, type VideoSourceConfig } from "../src/config.js";
import { ffmpegArgs, redactUrl } from "../src/sources/ffmpeg-args.js";

const base = { deviceId: "cam-1", secret: "s", hubUrl: "http://hub:8080", mqttUrl: "mqtt://hub:1883" };

describe("camera source config", () => {
  it("fills defaults per source type: restart budget, stall timeout, status server on 127.0.0.1:8090", () => {
    const c = loadAgentConfig({
      ...base,
      sources: [
        { id: "door", type: "rtsp", url: "rtsp://admin:pw@10.0.0.5:554/stream1", pipeline: "entrance" },
        { id: "clip", type: "video", path: "/data/clip.mp4", sample: { everyNth: 2 } },
        { id: "web", type: "mjpeg", url: "http://10.0.0.6/video.mjpg" },
        { id: "drop", type: "folder-watch", path: "/srv/line-3" },
        { id: "trigger", type: "push" },
      ],
    });
    expect(c.status).toEqual({ enabled: true, port: 8090, host: "127.0.0.1" });
    expect(c.ffmpegPath).toBe("auto");
    expect(c.frameQueue).toBe(16);
    expect(c.sources[0]).toEqual({
      id: "door",
      type: "rtsp",
      url: "rtsp://admin:pw@10.0.0.5:554/stream1",
      pipeline: "entrance",
      transport: "tcp",
      stallTimeoutMs: 10_000,
      restart: { maxRestarts: 10, windowMs: 300_000, backoffMs: 500, backoffMaxMs: 30_000, failedRetryMs: 60_000 },
      inputArgs: [],
    });
    expect(c.sources[1]).toMatchObject({ loop: false, realtime: true, sample: { everyNth: 2 } });
    expect(c.sources[2]).toMatchObject({ reader: "native" });
    expect(c.sources[3]).toMatchObject({ after: "move", doneDir: "done", pollMs: 250, settleMs: 300 });
    expect(c.sources[4]).toEqual({ id: "trigger", type: "push", maxBytes: 16 * 1024 * 1024 });
  });

  it("names the key path of camera config errors", () => {
    let issues: Array<{ path: string }> = [];
    try {
      loadAgentConfig({
        ...base,
        status: { port: 70_000, bind: "0.0.0.0" },
        sources: [
          { id: "door", type: "rtsp", url: "http://not-rtsp" },
          { id: "clip", type: "video", restart: { maxRestart: 3 } },
          { id: "web", type: "mjpeg", url: "http://x/", sample: { maxFps: 0 } },
        ],
      });
    } catch (err) {
      if (!isKensaError(err)) throw err;
      issues = (err.details as { issues: Array<{ path: string }> }).issues;
    }
    const paths = issues.map((i) => i.path);
    for (const p of [
      "/status/port",
      "/status/bind",
      "/sources/0/url",
      "/sources/1/path",
      "/sources/1/restart/maxRestart",
      "/sources/2/sample/maxFps",
    ]) {
      expect(paths).toContain(p);
    }
  });

  it("builds ffmpeg command lines: RTSP over TCP with an I/O timeout, files at native rate, fps cap", () => {
    const c = loadAgentConfig({
      ...base,
      sources: [
        { id: "door", type: "rtsp", url: "rtsp://cam/s", fps: 5, stallTimeoutMs: 5000 },
        { id: "clip", type: "video", path: "/v.mp4", loop: true, inputArgs: ["-hwaccel", "auto"] },
      ],
    });
    const rtsp = ffmpegArgs(c.sources[0] as RtspSourceConfig);
    expect(rtsp.join(" ")).toBe(
      "-hide_banner -nostdin -loglevel error -rtsp_transport tcp -timeout 4500000 -i rtsp://cam/s -map 0:v:0 -an -sn -dn -vf fps=5 -f image2pipe -c:v mjpeg -q:v 3 pipe:1",
    );
    // ffmpeg 4.x spells the RTSP socket timeout -stimeout (its -timeout would listen instead)
    expect(ffmpegArgs(c.sources[0] as RtspSourceConfig, 4)).toContain("-stimeout");
    expect(ffmpegArgs(c.sources[0] as RtspSourceConfig, 4)).not.toContain("-timeout");
    const file = ffmpegArgs(c.sources[1] as VideoSourceConfig).join(" ");
    expect(file).toContain("-re -stream_loop -1 -hwaccel auto -i /v.mp4");
    expect(file).not.toContain("-vf");
    expect(redactUrl("rtsp://admin:s3cret@10.0.0.5/x: 401 rtsp://u:p@h/y")).toBe(
      "rtsp://admin:***@10.0.0.5/x: 401 rtsp://u:***@h/y",
    );
  });
});
