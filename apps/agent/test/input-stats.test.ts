import { join } from "node:path";
import {
  compile,
  Event,
  INPUT_STATS_MAX_PIXELS,
  type InputSpec,
  inputStatsOf,
  type Preprocessing,
} from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { preprocess } from "@kensa/vision";
import { buildBlemishModel } from "@kensa/vision/graph";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { onnxModelLoader } from "../src/inference/onnx-loader.js";
import { Pipeline } from "../src/inference/pipeline.js";
import { Logger } from "../src/logger.js";
import { openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { Outbox } from "../src/storage/outbox.js";

const validEvent = compile(Event);
const quiet = new Logger("error", {}, () => undefined);

/** an image whose left half is black and right half white: luma 0.5, contrast (2·std) 1 */
async function halves(width: number, height: number): Promise<Buffer> {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = width / 2; x < width; x++) px.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return sharp(px, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

const flat = (r: number, g: number, b: number) =>
  sharp({ create: { width: 96, height: 64, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();

const input = (over: Partial<InputSpec> = {}): InputSpec => ({
  name: "image",
  width: 64,
  height: 64,
  channels: 3,
  layout: "NCHW",
  ...over,
});
const raw: Preprocessing = { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
const imagenet: Preprocessing = {
  resize: "stretch",
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

describe("input statistics of a frame (Event.input, for drift)", () => {
  it("read the image, not its normalisation: the same luma and contrast under any mean/std, layout and scale", async () => {
    const img = await flat(200, 100, 50);
    const luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255;
    const cases: Array<[InputSpec, Preprocessing]> = [
      [input(), raw],
      [input(), imagenet],
      [input({ layout: "NHWC" }), imagenet],
      // pixels 0…255 with an ImageNet mean in pixel units
      [input(), { ...raw, scale: 1, mean: [123.7, 116.3, 103.5], std: [58.4, 57.1, 57.4] }],
    ];
    for (const [spec, pre] of cases) {
      const t = await preprocess(img, spec, pre);
      const s = inputStatsOf(t.data, spec, pre);
      expect(s.luma).toBeCloseTo(luma, 2);
      expect(s.contrast).toBeCloseTo(0, 2);
    }
    // one channel: the grey value sharp makes is the luma
    const grey = input({ channels: 1 });
    const s = inputStatsOf((await preprocess(img, grey, raw)).data, grey, raw);
    expect(s.luma).toBeCloseTo(luma, 1);
  });

  it("contrast spans 0…1: half black, half white is luma 0.5, contrast 1; letterbox grey counts as the model sees it", async () => {
    const img = await halves(64, 64);
    const t = await preprocess(img, input(), raw);
    const s = inputStatsOf(t.data, input(), raw);
    expect(s.luma).toBeCloseTo(0.5, 2);
    expect(s.contrast).toBeCloseTo(1, 2);
    // a wide image letterboxed into a square: the grey bars (114) are part of the input
    const wide = await flat(255, 255, 255);
    const lb = { ...raw, resize: "letterbox" as const };
    const l = inputStatsOf((await preprocess(wide, input(), lb)).data, input(), lb);
    const white = 64 * 43; // rows the 96×64 image covers once scaled to 64 wide (43 of 64)
    expect(l.luma).toBeGreaterThan((114 / 255) * (1 - white / 4096));
    expect(l.luma).toBeLessThan(1);
    expect(l.contrast).toBeGreaterThan(0.3);
  });

  it(`costs tens of µs a frame at most: a 640×640 RGB input is read at ${INPUT_STATS_MAX_PIXELS} pixels`, () => {
    const spec = input({ width: 640, height: 640 });
    const data = new Float32Array(3 * 640 * 640);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 1000) / 1000;
    for (let i = 0; i < 200; i++) inputStatsOf(data, spec, imagenet);
    const n = 2000;
    const t0 = process.hrtime.bigint();
    let sink = 0;
    for (let i = 0; i < n; i++) sink += inputStatsOf(data, spec, imagenet).luma;
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    process.stdout.write(`input statistics of a 640×640×3 tensor: ${us.toFixed(1)} µs per frame\n`);
    expect(sink).toBeGreaterThan(0);
    // against a 640×640 decode and inference of tens of ms: well under 1 %
    expect(us).toBeLessThan(200);
  });

  it("the agent's ONNX runtime puts them on every event it stores, valid for the hub", async () => {
    const dir = await tempDir();
    const db = openAgentDb(dir.path);
    try {
      const outbox = new Outbox(db, new MediaQueue(db, join(dir.path, "media")));
      const pipeline = new Pipeline({ id: "default", deviceId: "cam-1", outbox, logger: quiet });
      const { onnx, manifest } = buildBlemishModel();
      const model = await onnxModelLoader(1)(onnx, manifest);
      await model.warmup();
      await pipeline.swap({ model, manifest, bundle: { sha256: "c".repeat(64), modelVersionId: "mv-test" } });
      const frames = [await flat(40, 40, 40), await flat(220, 220, 220), await halves(64, 64)];
      for (const [i, image] of frames.entries()) {
        pipeline.handle({ sourceId: "cam", capturedAt: new Date(1_700_000_000_000 + i), image, meta: {}, queue: true });
      }
      await pipeline.idle();
      const events = outbox.peek(0, 100).map((r) => JSON.parse(r.payload) as Event);
      expect(events).toHaveLength(3);
      for (const e of events) expect(validEvent.check(e), JSON.stringify(validEvent.issues(e))).toBe(true);
      expect(events.map((e) => e.input?.luma.toFixed(2))).toEqual([
        (40 / 255).toFixed(2),
        (220 / 255).toFixed(2),
        "0.50",
      ]);
      expect(events.map((e) => e.input?.contrast.toFixed(2))).toEqual(["0.00", "0.00", "1.00"]);
      await pipeline.swap(null);
    } finally {
      db.close();
      await dir.remove();
    }
  });
});
