import type { InputSpec, Preprocessing } from "@kensa/contracts";
import { renderFrame } from "@kensa/synth";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { preprocess } from "../src/index.js";

/** A PNG from interleaved RGB bytes. */
function png(width: number, height: number, rgb: number[]): Promise<Buffer> {
  return sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

const input = (o: Partial<InputSpec>): InputSpec => ({
  name: "x",
  width: 2,
  height: 2,
  channels: 3,
  layout: "NCHW",
  ...o,
});
const pre = (o: Partial<Preprocessing>): Preprocessing => ({
  resize: "stretch",
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  ...o,
});

// red, green / blue, white
const RGBW = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];

describe("preprocess", () => {
  it("NCHW: one plane per channel, (v*scale - mean)/std", async () => {
    const t = await preprocess(await png(2, 2, RGBW), input({}), pre({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }));
    expect(t.dims).toEqual([1, 3, 2, 2]);
    // R plane, G plane, B plane; 255 → (1 - 0.5) / 0.5 = 1, 0 → -1
    expect(Array.from(t.data)).toEqual([1, -1, -1, 1, -1, 1, -1, 1, -1, -1, 1, 1]);
    expect([t.width, t.height]).toEqual([2, 2]);
  });

  it("NHWC: channels interleaved per pixel, per-channel mean/std (ImageNet)", async () => {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const t = await preprocess(
      await png(2, 2, [0, 51, 102, 153, 204, 255, 0, 0, 0, 255, 255, 255]),
      input({ layout: "NHWC" }),
      pre({ mean, std }),
    );
    expect(t.dims).toEqual([1, 2, 2, 3]);
    const want = [
      (0 - 0.485) / 0.229,
      (0.2 - 0.456) / 0.224,
      (0.4 - 0.406) / 0.225,
      (0.6 - 0.485) / 0.229,
      (0.8 - 0.456) / 0.224,
      (1 - 0.406) / 0.225,
      -0.485 / 0.229,
      -0.456 / 0.224,
      -0.406 / 0.225,
      (1 - 0.485) / 0.229,
      (1 - 0.456) / 0.224,
      (1 - 0.406) / 0.225,
    ];
    for (const [i, v] of t.data.entries()) expect(v).toBeCloseTo(want[i]!, 5);
  });

  it("channels 1: grey, a single mean/std, scale 1", async () => {
    const t = await preprocess(
      await png(2, 2, [10, 10, 10, 200, 200, 200, 60, 60, 60, 255, 255, 255]),
      input({ channels: 1 }),
      pre({ scale: 1, mean: [10], std: [2] }),
    );
    expect(t.dims).toEqual([1, 1, 2, 2]);
    expect(Array.from(t.data)).toEqual([0, 95, 25, 122.5]);
    const nhwc = await preprocess(
      await png(2, 2, [10, 10, 10, 200, 200, 200, 60, 60, 60, 255, 255, 255]),
      input({ channels: 1, layout: "NHWC" }),
      pre({ scale: 1, mean: [0], std: [1] }),
    );
    expect(nhwc.dims).toEqual([1, 2, 2, 1]);
    expect(Array.from(nhwc.data)).toEqual([10, 200, 60, 255]);
  });

  it("channels 3 from a grey or transparent PNG: three equal channels, alpha dropped", async () => {
    const grey = await sharp(Buffer.from([10, 200, 60, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toBuffer();
    const t = await preprocess(grey, input({ layout: "NHWC" }), pre({ scale: 1 }));
    expect(Array.from(t.data)).toEqual([10, 10, 10, 200, 200, 200, 60, 60, 60, 255, 255, 255]);
    const rgba = await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 255]), {
      raw: { width: 2, height: 2, channels: 4 },
    })
      .png()
      .toBuffer();
    const u = await preprocess(rgba, input({ layout: "NHWC" }), pre({ scale: 1 }));
    expect(Array.from(u.data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3]);
  });

  // a 4x2 image whose columns are 20, 70, 120, 170
  const columns = () =>
    png(
      4,
      2,
      [0, 1].flatMap(() => [20, 70, 120, 170].flatMap((v) => [v, v, v])),
    );

  it("letterbox keeps the aspect ratio and pads with grey 114", async () => {
    const t = await preprocess(
      await columns(),
      input({ width: 4, height: 4, channels: 1 }),
      pre({ resize: "letterbox", scale: 1 }),
    );
    expect(Array.from(t.data)).toEqual([114, 114, 114, 114, 20, 70, 120, 170, 20, 70, 120, 170, 114, 114, 114, 114]);
    expect([t.width, t.height]).toEqual([4, 2]);
  });

  it("center-crop keeps the middle, stretch squeezes everything in", async () => {
    const crop = await preprocess(await columns(), input({ channels: 1 }), pre({ resize: "center-crop", scale: 1 }));
    expect(Array.from(crop.data)).toEqual([70, 120, 70, 120]);
    const stretch = await preprocess(await columns(), input({ channels: 1 }), pre({ resize: "stretch", scale: 1 }));
    // each output pixel blends two columns; left half darker than the right half
    expect(stretch.data[0]!).toBeGreaterThan(20);
    expect(stretch.data[0]!).toBeLessThan(120);
    expect(stretch.data[1]!).toBeGreaterThan(70);
    expect(stretch.data[1]!).toBeLessThan(170);
    expect([stretch.width, stretch.height]).toEqual([4, 2]);
  });

  it("reports the original size of a downscaled JPEG", async () => {
    const f = await renderFrame(0, { seed: 1 });
    const t = await preprocess(f.jpeg, input({ width: 64, height: 64 }), pre({}));
    expect([t.width, t.height]).toEqual([320, 240]);
    expect(t.dims).toEqual([1, 3, 64, 64]);
    expect(t.data.length).toBe(3 * 64 * 64);
    for (const v of t.data) expect(v >= 0 && v <= 1).toBe(true);
  });

  it("undecodable bytes give KENSA_ERR_MEDIA_INVALID", async () => {
    const f = await renderFrame(0, { seed: 1 });
    const bad = [
      new Uint8Array(0),
      new TextEncoder().encode("not an image at all"),
      f.jpeg.subarray(0, f.jpeg.length >> 1),
    ];
    for (const bytes of bad) {
      await expect(preprocess(bytes, input({}), pre({}))).rejects.toMatchObject({ code: "KENSA_ERR_MEDIA_INVALID" });
    }
  });
});
