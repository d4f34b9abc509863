import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { planResize, preprocess, toOriginalBox } from "../src/index.js";

const pre = { scale: 1, mean: [0], std: [1] };

describe("planResize", () => {
  it("letterbox: Ultralytics' geometry, recorded as scale and pad", () => {
    expect(planResize(1280, 720, { width: 640, height: 640 }, "letterbox")).toEqual({
      resizeWidth: 640,
      resizeHeight: 360,
      left: 0,
      top: 140,
      transform: { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 140, width: 1280, height: 720 },
    });
    // 100×51 → 64×64: scale 0.64, 51 × 0.64 = 32.64 → 33 rows, 31 of padding: 15 above, 16 below
    expect(planResize(100, 51, { width: 64, height: 64 }, "letterbox")).toMatchObject({
      resizeWidth: 64,
      resizeHeight: 33,
      left: 0,
      top: 15,
      transform: { scaleX: 0.64, scaleY: 33 / 51, padX: 0, padY: 15 },
    });
  });

  it("center-crop cuts (negative pad), stretch scales each axis", () => {
    expect(planResize(400, 200, { width: 100, height: 100 }, "center-crop").transform).toEqual({
      scaleX: 0.5,
      scaleY: 0.5,
      padX: -50,
      padY: 0,
      width: 400,
      height: 200,
    });
    expect(planResize(320, 240, { width: 160, height: 160 }, "stretch").transform).toEqual({
      scaleX: 0.5,
      scaleY: 2 / 3,
      padX: 0,
      padY: 0,
      width: 320,
      height: 240,
    });
  });

  it("maps input-px corners to clipped [x, y, w, h] in the original", () => {
    const t = planResize(1280, 720, { width: 640, height: 640 }, "letterbox").transform;
    expect(toOriginalBox(160, 220, 240, 260, t)).toEqual([320, 160, 160, 80]);
    expect(toOriginalBox(-10, 100, 700, 150, t)).toEqual([0, 0, 1280, 20]);
  });
});

describe("preprocess records the transform it applied", () => {
  it("odd letterbox padding lands where the plan says, to the pixel", async () => {
    const white = await sharp({ create: { width: 100, height: 51, channels: 3, background: "#fff" } })
      .png()
      .toBuffer();
    const t = await preprocess(
      white,
      { name: "x", width: 64, height: 64, channels: 1, layout: "NCHW" },
      { resize: "letterbox", ...pre },
    );
    expect(t.transform).toMatchObject({ padX: 0, padY: 15, scaleY: 33 / 51 });
    const column = Array.from({ length: 64 }, (_, y) => t.data[y * 64 + 10]);
    expect(column.slice(0, 15).every((v) => v === 114)).toBe(true);
    expect(column.slice(15, 48).every((v) => v === 255)).toBe(true);
    expect(column.slice(48).every((v) => v === 114)).toBe(true);
  });

  it("center-crop keeps the middle of the resized image", async () => {
    // 8×2 columns 0..7 (value 30·x) → 2×2: scale 1 (height fits), crop 3 px each side
    const raw = Buffer.from(Array.from({ length: 16 }, (_, i) => (i % 8) * 30).flatMap((v) => [v, v, v]));
    const img = await sharp(raw, { raw: { width: 8, height: 2, channels: 3 } })
      .png()
      .toBuffer();
    const t = await preprocess(
      img,
      { name: "x", width: 2, height: 2, channels: 1, layout: "NCHW" },
      { resize: "center-crop", ...pre },
    );
    expect(Array.from(t.data)).toEqual([90, 120, 90, 120]);
    expect(t.transform).toMatchObject({ padX: -3, padY: 0, scaleX: 1, scaleY: 1 });
  });
});
