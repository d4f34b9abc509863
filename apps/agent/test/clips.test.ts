import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { type AgentStatus, agentStatusRoutes, type Event, routePath } from "@kensa/contracts";
import { commandWorks, needService, tempDir, waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { ClipRecorder } from "../src/clips/clip-recorder.js";
import { ClipStore } from "../src/clips/clip-store.js";
import { loadAgentConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import type { Frame } from "../src/sources/frame-source.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { startBroker, type TestBroker } from "./helpers/broker.js";
import { renderJpegs } from "./helpers/frames.js";
import { startHubHttp, type TestHub } from "./helpers/hub-http.js";
import { type DeviceWatcher, desired, watchDevice } from "./helpers/watcher.js";

const hasFfmpeg = commandWorks("ffmpeg", ["-hide_banner", "-version"]) && commandWorks("ffprobe", ["-version"]);
const skip = needService("ffmpeg and ffprobe", hasFfmpeg);
const quiet = new Logger("error", {}, () => undefined);

/** frames and codec of a video file, as ffprobe counts them */
function probe(path: string): { frames: number; codec: string } {
  const out = execFileSync(
    "ffprobe",
    [
      "-v",
      "error",
      "-count_frames",
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=codec_name,nb_read_frames",
      "-of",
      "json",
      path,
    ],
    { encoding: "utf8" },
  );
  const s = (JSON.parse(out) as { streams: Array<{ codec_name: string; nb_read_frames: string }> }).streams[0];
  return { frames: Number(s?.nb_read_frames), codec: s?.codec_name ?? "" };
}

describe.skipIf(skip)("incident clips (real ffmpeg)", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  for (const codec of ["h264", "mjpeg"] as const) {
    it(`cuts ${codec}: the buffered second before the incident and the second after it`, async () => {
      const db = openAgentDb(join(dir.path, codec));
      const store = new ClipStore(db, join(dir.path, codec, "clips"));
      await store.reap();
      const rec = new ClipRecorder({
        store,
        settings: { beforeS: 1, afterS: 1, maxBufferBytes: 16 * 1024 * 1024, codec },
        ffmpegPath: "ffmpeg",
        logger: quiet,
      });
      const jpegs = await renderJpegs(40, 64, 48);
      // 10 fps: frame i at i × 100 ms
      const frames: Frame[] = jpegs.map((image, i) => ({
        sourceId: "cam",
        capturedAt: new Date(1e12 + i * 100),
        image,
        meta: { i },
      }));
      for (const f of frames.slice(0, 25)) rec.observe(f);
      // the incident is frame 24 (t = 2400): the clip takes t ≥ 1400 (frames 14..24) and up to t = 3400 (… 34)
      rec.inferred({ id: "evt-clip-0001", result: { finding: true } } as unknown as Event, frames[24] as Frame);
      // an incident while the clip records is inside it: no second clip
      rec.inferred({ id: "evt-clip-0002", result: { finding: true } } as unknown as Event, frames[24] as Frame);
      for (const f of frames.slice(25)) rec.observe(f);
      await rec.idle();
      const clips = store.list();
      expect(clips).toHaveLength(1);
      const ext = codec === "h264" ? "mp4" : "avi";
      expect(clips[0]).toMatchObject({
        file: `evt-clip-0001.${ext}`,
        eventId: "evt-clip-0001",
        sourceId: "cam",
        frames: 21,
        durationMs: 2000,
      });
      expect(probe(store.path(clips[0]?.file as string))).toEqual({
        frames: 21,
        codec: codec === "h264" ? "h264" : "mjpeg",
      });
      await rec.stop();
      db.close();
    });
  }

  describe("an agent with a video source and a rule in its bundle", () => {
    let broker: TestBroker;
    let hub: TestHub;
    let watcher: DeviceWatcher;
    let agent: RunningAgent | undefined;

    beforeAll(async () => {
      broker = await startBroker({ "cam-v": "s3cret", hub: "hub" });
      hub = await startHubHttp("cam-v", "s3cret");
      watcher = await watchDevice(broker.url, "cam-v", "hub", "hub");
    });
    afterAll(async () => {
      await agent?.stop();
      await watcher?.close();
      await broker?.close();
      await hub?.stop();
    });

    it("writes a clip around the rule's hit, serves it on the status API and sends it to the hub", async () => {
      const video = join(dir.path, "line.mp4");
      execFileSync("ffmpeg", [
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "4",
        "-pix_fmt",
        "yuv420p",
        video,
      ]);
      const model = buildBlemishModel();
      const defect = model.manifest.labels.find((l) => !model.manifest.okLabels.includes(l)) as string;
      // every frame matches (score ≥ 0 of the defect class); the cooldown makes it one incident
      const rules = [
        { id: "any", name: "anything at all", type: "threshold", labels: [defect], minScore: 0, cooldownS: 3600 },
      ];
      const bundle = hub.addBundle("mv-rules", {
        model: { onnx: model.onnx, manifest: { ...model.manifest, rules } as typeof model.manifest },
      });
      await watcher.setDesired(desired(1, bundle.ref));
      agent = await startAgent(
        loadAgentConfig({
          deviceId: "cam-v",
          secret: "s3cret",
          hubUrl: hub.url,
          mqttUrl: broker.url,
          dataDir: join(dir.path, "agent"),
          sources: [{ id: "line", type: "video", path: video, loop: true, realtime: true }],
          media: { clips: { beforeS: 0.5, afterS: 0.5 } },
          status: { port: 0 },
        }),
        { logger: quiet },
      );
      const hit = await waitFor("the rule's incident", () => watcher.events.find((e) => e.rules?.length));
      expect(hit.rules?.[0]).toMatchObject({ id: "any", name: "anything at all", type: "threshold", hit: true });
      expect(hit).toMatchObject({ media: true, result: { finding: true } });
      const status = `${agent.statusUrl}${agentStatusRoutes.clips.path}`;
      const list = await waitFor(
        "the clip on the status API",
        async () => {
          const body = (await (await fetch(status)).json()) as {
            items: Array<{ eventId: string; url: string; frames: number }>;
          };
          return body.items.length > 0 ? body.items : undefined;
        },
        { timeoutMs: 15_000 },
      );
      expect(list).toHaveLength(1);
      expect(list[0]?.eventId).toBe(hit.id);
      expect(list[0]?.frames).toBeGreaterThanOrEqual(5);
      const res = await fetch(`${agent.statusUrl}${list[0]?.url}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^video\//);
      const local = Buffer.from(await res.arrayBuffer());
      expect(local.byteLength).toBeGreaterThan(1000);
      // the same clip goes to the hub, after its event, and stays on the device
      const sent = await waitFor("the clip upload", () => hub.clips[0]);
      expect(sent).toMatchObject({ eventId: hit.id, authorized: true, contentType: res.headers.get("content-type") });
      expect(sent.bytes.equals(local)).toBe(true);
      expect(Number(sent.query.durationMs)).toBeGreaterThan(0);
      expect(Number(sent.query.frames)).toBe(list[0]?.frames);
      await waitFor("the clip marked uploaded", async () => {
        const body = (await (await fetch(status)).json()) as { items: Array<{ upload: string }> };
        return body.items[0]?.upload === "uploaded";
      });
      expect(
        (await fetch(`${agent.statusUrl}${routePath(agentStatusRoutes.clip.path, { file: "nope.mp4" })}`)).status,
      ).toBe(404);
      // the status API says which ffmpeg the video source and the clips ran (the default, auto, found the system's)
      const agentStatus = (await (
        await fetch(`${agent.statusUrl}${agentStatusRoutes.status.path}`)
      ).json()) as AgentStatus;
      expect(agentStatus.ffmpeg).toMatchObject({ path: "ffmpeg", from: "system", version: expect.any(String) });
      // only the first frame hit: the rest of the stream was inside the cooldown
      expect(watcher.events.filter((e) => e.rules?.length).length).toBe(1);
      expect(watcher.events.filter((e) => !e.rules?.length).every((e) => e.result.finding === false && !e.media)).toBe(
        true,
      );
    });
  });
});
