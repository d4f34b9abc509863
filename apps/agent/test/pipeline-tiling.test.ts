import { join } from "node:path";
import { compile, Event, parseManifest } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { GraphBuilder } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Pipeline } from "../src/inference/pipeline.js";
import { Logger } from "../src/logger.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { Outbox } from "../src/storage/outbox.js";

const validEvent = compile(Event);

/** An anomaly model that scores darkness: map = 1 − pixel, 64×64 input, any batch. */
function darkness(): Uint8Array {
  const g = new GraphBuilder("kensa-test-darkness");
  const image = g.input("image", ["N", 1, 64, 64]);
  g.output(g.node("Sub", [g.initializer("one", [], [1]), image], {}, "map"), ["N", 1, 64, 64]);
  return g.toBytes();
}

function manifest(tiled: boolean) {
  return parseManifest({
    task: "anomaly",
    input: { name: "image", width: 64, height: 64, channels: 1 },
    preprocessing: {},
    labels: ["ok", "anomaly"],
    okLabels: ["ok"],
    postprocessing: { type: "anomaly", output: "map" },
    thresholds: { default: 0.5 },
    ...(tiled ? { tiling: { width: 64, height: 64, overlap: 16 } } : {}),
  });
}

/**
 * The agent runs a bundle's `tiling`: a 4-px dark spot on a 1280×720 camera frame is found at
 * native resolution by the tiled bundle (region in frame px) and lost by the same model fed the
 * whole frame shrunk to 64×64.
 */
describe("pipeline: a tiled bundle", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: ReturnType<typeof openAgentDb>;
  let outbox: Outbox;
  let pipeline: Pipeline;

  beforeEach(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
    outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
    pipeline = new Pipeline({
      id: "default",
      deviceId: "cam-1",
      outbox,
      logger: new Logger("error", {}, () => undefined),
    });
  });
  afterEach(async () => {
    await pipeline.idle();
    await pipeline.swap(null);
    db.close();
    await dir.remove();
  });

  it("reports the small defect in frame px with tiling and misses it without", async () => {
    const w = 1280;
    const h = 720;
    const px = new Uint8Array(w * h).fill(220);
    for (let y = 500; y < 504; y++) for (let x = 901; x < 905; x++) px[y * w + x] = 0;
    const image = await sharp(px, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toBuffer();
    const onnx = darkness();
    for (const [i, tiled] of [true, false].entries()) {
      const m = manifest(tiled);
      await pipeline.swap({
        model: await Inferencer.create(onnx, m, { intraOpThreads: 1 }),
        bundle: { sha256: String(i).repeat(64), modelVersionId: `mv-${i}` },
        manifest: m,
      });
      pipeline.handle({
        sourceId: "cam",
        capturedAt: new Date(1_700_000_000_000 + i),
        image,
        meta: { i },
        queue: true,
      });
      await pipeline.idle();
    }
    const [tiled, whole] = outbox.peek(0, 10).map((r) => JSON.parse(r.payload) as Event);
    expect(tiled && validEvent.check(tiled)).toBe(true);
    if (tiled?.result.task !== "anomaly" || whole?.result.task !== "anomaly") throw new Error("not anomaly events");
    expect(tiled.result.finding).toBe(true);
    expect(tiled.result.score).toBeGreaterThan(0.95);
    expect(tiled.result.regions.map((r) => [r.box, r.area])).toEqual([[[901, 500, 4, 4], 16]]);
    expect(whole.result.finding).toBe(false);
    expect(whole.result.regions).toEqual([]);
  });
});
