import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { topics } from "@kensa/contracts";
import { SyntheticCamera } from "@kensa/synth";
import { tempDir, waitFor } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { buildBlemishModel } from "@kensa/vision/graph";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../src/inference/pipeline.js";
import { Logger } from "../src/logger.js";
import type { Frame } from "../src/sources/frame-source.js";
import { createSource } from "../src/sources/source-registry.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { Outbox } from "../src/storage/outbox.js";
import { MqttLink } from "../src/uplink/mqtt-link.js";
import { startBroker } from "./helpers/broker.js";
import { watchDevice } from "./helpers/watcher.js";

function capture(level: "debug" | "info" | "warn" | "error" = "info") {
  const lines: Array<Record<string, unknown>> = [];
  const logger = new Logger(level, {}, (l) => lines.push(JSON.parse(l)));
  return { lines, logger };
}

describe("MQTT link", () => {
  it("publishes retained presence online, and the broker's LWT says offline when the device vanishes", async () => {
    const broker = await startBroker({ "cam-1": "pw", hub: "hub" });
    const watcher = await watchDevice(broker.url, "cam-1", "hub", "hub");
    const { logger } = capture("error");
    const link = new MqttLink({
      url: broker.url,
      deviceId: "cam-1",
      secret: "pw",
      agentVersion: "9.9.9",
      logger,
      reconnectMaxMs: 60_000,
    });
    try {
      link.start();
      await waitFor("online", () => watcher.presence.find((p) => p.status === "online"));
      expect(watcher.presence.at(-1)).toMatchObject({ v: 1, status: "online", agentVersion: "9.9.9" });
      // a dead device, not a clean disconnect: the broker fires the will
      broker.dropClient("cam-1");
      await waitFor("LWT offline", () => watcher.presence.at(-1)?.status === "offline");
      const retained = await new Promise<string>((resolve) => {
        // aedes keeps retained messages in its persistence, which its types do not declare
        (
          broker.aedes as unknown as { persistence: { createRetainedStream(topic: string): NodeJS.ReadableStream } }
        ).persistence
          .createRetainedStream(topics.presence("cam-1"))
          .once("data", (p: { payload: Buffer }) => resolve(p.payload.toString()));
      });
      expect(JSON.parse(retained)).toMatchObject({ v: 1, status: "offline" });
    } finally {
      await link.close(200);
      await watcher.close();
      await broker.close();
    }
  });

  it("logs refused credentials clearly and never logs the secret", async () => {
    const broker = await startBroker({ "cam-1": "right" });
    const { lines, logger } = capture();
    const link = new MqttLink({
      url: broker.url,
      deviceId: "cam-1",
      secret: "wrong-secret",
      agentVersion: "t",
      logger,
    });
    try {
      link.start();
      const line = await waitFor("an auth failure log", () =>
        lines.find((l) => l.errorCode === "KENSA_ERR_UNAUTHORIZED"),
      );
      expect(line).toMatchObject({ level: "error", code: 4, deviceId: "cam-1" });
      expect(line.msg).toMatch(/rejected the device credentials/);
      expect(JSON.stringify(lines)).not.toContain("wrong-secret");
      expect(link.connected).toBe(false);
    } finally {
      await link.close(200);
      await broker.close();
    }
  });
});

describe("frame sources", () => {
  it("folder: images in name order with {file} meta, looping, skipping other files", async () => {
    const dir = await tempDir();
    const camera = new SyntheticCamera({ seed: 5, width: 64, height: 48 });
    for (const name of ["b.jpg", "a.jpeg", "c.JPG"]) writeFileSync(join(dir.path, name), (await camera.next()).jpeg);
    writeFileSync(join(dir.path, "notes.txt"), "x");
    const source = createSource({ id: "dir", type: "folder", path: dir.path, fps: 50, loop: true });
    const frames: Frame[] = [];
    source.on("frame", (f) => frames.push(f));
    source.start();
    await waitFor("two passes", () => frames.length >= 6);
    await source.stop();
    expect(frames.slice(0, 6).map((f) => f.meta.file)).toEqual([
      "a.jpeg",
      "b.jpg",
      "c.JPG",
      "a.jpeg",
      "b.jpg",
      "c.JPG",
    ]);
    expect(frames[0]?.sourceId).toBe("dir");
    expect(source.status).toBe("stopped");
    await dir.remove();
  });

  it("folder: a missing folder is a KENSA_ERR_SOURCE_FAILED error state, not a crash; no loop ends", async () => {
    const dir = await tempDir();
    const missing = createSource({ id: "gone", type: "folder", path: join(dir.path, "nope"), fps: 10, loop: true });
    const errors: string[] = [];
    missing.on("error", (e) => errors.push(e.code));
    missing.start();
    await waitFor("an error", () => errors.length > 0);
    expect(errors[0]).toBe("KENSA_ERR_SOURCE_FAILED");
    expect(missing.status).toBe("error");
    await missing.stop();

    writeFileSync(
      join(dir.path, "one.jpg"),
      (await new SyntheticCamera({ seed: 1, width: 64, height: 48 }).next()).jpeg,
    );
    const once = createSource({ id: "once", type: "folder", path: dir.path, fps: 50, loop: false });
    let ended = false;
    let n = 0;
    once.on("frame", () => n++);
    once.on("end", () => {
      ended = true;
    });
    once.start();
    await waitFor("end", () => ended);
    expect(n).toBe(1);
    expect(once.status).toBe("ended");
    await once.stop();
    await dir.remove();
  });

  it("synthetic: paced frames with {synthetic, index, seed, defect} meta", async () => {
    const source = createSource({
      id: "sim",
      type: "synthetic",
      fps: 40,
      seed: 9,
      defectRate: 1,
      width: 64,
      height: 48,
    });
    const frames: Frame[] = [];
    source.on("frame", (f) => frames.push(f));
    source.start();
    await waitFor("frames", () => frames.length >= 3);
    await source.stop();
    expect(frames[0]?.meta).toMatchObject({ synthetic: true, index: 0, seed: 9 });
    expect(["spot", "scratch", "stain"]).toContain(frames[0]?.meta.defect);
    expect(frames[1]?.meta.index).toBe(1);
  });
});

describe("pipeline", () => {
  it("skips frames without a model, drops frames while busy, and closes a swapped-out model after its last frame", async () => {
    const dir = await tempDir();
    const db = openAgentDb(dir.path);
    const outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    const pipeline = new Pipeline({ id: "default", deviceId: "cam-1", outbox, logger: new Logger("error") });
    const camera = new SyntheticCamera({ seed: 1, defectRate: 0.5 });
    const frame = async (): Promise<Frame> => ({
      sourceId: "s",
      capturedAt: new Date(),
      image: (await camera.next()).jpeg,
      meta: {},
    });
    pipeline.handle(await frame());
    expect(pipeline.stats()).toMatchObject({ framesTotal: 1, framesSkipped: 1, framesInferred: 0 });

    const { onnx, manifest } = buildBlemishModel();
    const model = await Inferencer.create(onnx, manifest);
    let closed = false;
    const tracked = {
      infer: (i: Uint8Array) => model.infer(i),
      warmup: () => model.warmup(),
      close: async () => {
        closed = true;
        await model.close();
      },
    };
    await pipeline.swap({ model: tracked, bundle: { sha256: "b".repeat(64), modelVersionId: "m" }, manifest });
    const a = await frame();
    const b = await frame();
    const c = await frame();
    // two frames in flight (one decoding while the other is inferred); the third is dropped
    pipeline.handle(a);
    pipeline.handle(b);
    pipeline.handle(c);
    // swapping while the first frame is in inference must not close the model under it
    const swapped = pipeline.swap(null);
    expect(closed).toBe(false);
    await swapped;
    expect(closed).toBe(true);
    expect(pipeline.stats()).toMatchObject({ framesTotal: 4, framesSkipped: 1, framesDropped: 1, framesInferred: 2 });
    expect(outbox.depth()).toBe(2);
    expect(outbox.peek(0, 10).map((r) => JSON.parse(r.payload).ts)).toEqual(
      [a, b].map((f) => f.capturedAt.toISOString()),
    );
    db.close();
    await dir.remove();
  });
});
