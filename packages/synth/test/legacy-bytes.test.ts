import { createHash } from "node:crypto";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { renderFrame, renderPixels, type SynthOptions } from "../src/index.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// Recorded from @kensa/synth before woven fabric, tiles, boards, cracks, holes and masks were
// added: the blemish model in @kensa/vision was calibrated on exactly these frames. rgb is the
// raw render (pure JS, any platform); jpeg is sharp 0.34.5 with libvips 8.17.3's mozjpeg.
const recorded: Array<{ opts: SynthOptions; index: number; rgb: string; jpeg: string }> = [
  {
    opts: { seed: 1, surface: "brushed-metal" },
    index: 0,
    rgb: "6094464d52d0d1fc4772d0f254b02d3d6cc5e444a52ff8ddaabf15735befc3a3",
    jpeg: "59a4d81e79b0d1ed748beda74deaf492ff363c0614530655be0960e5e710bd65",
  },
  {
    opts: { seed: 2, surface: "brushed-metal" },
    index: 1,
    rgb: "31a87cf04a67c6353fc9cb5fda79db1f3c48e7c333338cde2526a8f879806983",
    jpeg: "9c0a8c3f4f3cd99e69b47a1d58c8e91efb99633623ba93be8523743a205d4359",
  },
  {
    opts: { seed: 1, surface: "brushed-metal", defectRate: 1 },
    index: 17,
    rgb: "598630ff9786e45a05b55d8c0a6fcd10e38a3665bb1253c1da08cdd82907d497",
    jpeg: "9ed178ec2de18c305b38d96d2a31394a78cd7907d1562a57618b127fb8c40dd7",
  },
  {
    opts: { seed: 1, surface: "cast" },
    index: 3,
    rgb: "c18b6e2c366284bcd62739c62ce4a72ac96cdeab4dde5553c554d2c6ee13c75b",
    jpeg: "066d3ab0bf76abf779c2ff8d0244a8e714cb5f782c9ef7bd619290e50951c5d8",
  },
  {
    opts: { seed: 1, surface: "cast", defectRate: 1 },
    index: 3,
    rgb: "e3de23ecd332a93778ddb8a440860106ab6abd82af3f809e170c16dc750386cd",
    jpeg: "22ea0b02ded081ca427c41218e34478a6afefbaed6713b8ed5a49f3585a6c885",
  },
  {
    opts: { seed: 1, surface: "cast", width: 640, height: 480 },
    index: 0,
    rgb: "637d0c1d769ba2560314d5ce8eb0b15bd09b6b75974672772f3e1711ad8394f9",
    jpeg: "50610181c950f6fa3ce013c4f56d0c5ef8488cbb60c4c4ccfa9d16c3243a5261",
  },
  {
    opts: { seed: 1, surface: "brushed-metal", width: 640, height: 480, defectRate: 1 },
    index: 17,
    rgb: "93dc1fea115c769dd69262367363f94ba7f3863f1fc57637d17b033b30c07857",
    jpeg: "8f1417adc393833032e590680306ae9adb6c3542364e37ca470e3ce7cb054eef",
  },
];

describe("plain surfaces", () => {
  it("render the same bytes as before the generator grew", async () => {
    for (const { opts, index, rgb } of recorded) {
      expect(sha256(renderPixels(index, opts).rgb), JSON.stringify({ ...opts, index })).toBe(rgb);
      // the new options at their defaults, and masks, change nothing either
      const spelled = { noise: 0.012, lightingJitter: 1, maxDefects: 1, masks: true, ...opts };
      expect(sha256(renderPixels(index, spelled).rgb)).toBe(rgb);
    }
  });

  it("encode the same JPEG bytes as before (with the sharp build they were recorded with)", async (ctx) => {
    if (sharp.versions.vips !== "8.17.3") {
      console.log(`skipped: JPEG hashes were recorded with libvips 8.17.3, this is ${sharp.versions.vips}`);
      ctx.skip();
    }
    for (const { opts, index, jpeg } of recorded) {
      expect(sha256((await renderFrame(index, opts)).jpeg), JSON.stringify({ ...opts, index })).toBe(jpeg);
    }
  });
});
