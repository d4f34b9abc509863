import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { imageSize } from "../src/image-size.js";

const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: "#468" } });

describe("imageSize", () => {
  it("reads JPEG (baseline, progressive, with EXIF) and PNG headers as sharp does", async () => {
    const images = [
      await solid(1920, 1080).jpeg().toBuffer(),
      await solid(301, 17).jpeg({ progressive: true }).toBuffer(),
      await solid(64, 48).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
      await solid(5, 700).png().toBuffer(),
    ];
    for (const bytes of images) {
      const meta = await sharp(bytes).metadata();
      expect(imageSize(bytes)).toEqual({ width: meta.width, height: meta.height });
    }
  });

  it("gives null for other formats and for headers that do not parse", async () => {
    expect(imageSize(await solid(8, 8).webp().toBuffer())).toBeNull();
    expect(imageSize(new TextEncoder().encode("not an image at all"))).toBeNull();
    expect(imageSize(new Uint8Array([0xff, 0xd8, 0xff]))).toBeNull();
    const jpeg = await solid(32, 32).jpeg().toBuffer();
    expect(imageSize(jpeg.subarray(0, 20))).toBeNull();
  });
});
