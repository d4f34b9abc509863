import { compile, ModelManifest } from "@kensa/contracts";
import { renderFrame, surfaceKinds } from "@kensa/synth";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBlemishModel } from "../src/graph/index.js";
import { Classifier, checkModelAgainstManifest } from "../src/index.js";

const FRAMES_PER_CAMERA = 200;

/** A 320x240 JPEG from a luminance function (0..1), with mild sensor noise. */
async function lumJpeg(f: (x: number, y: number) => number): Promise<Buffer> {
  const rgb = new Uint8ClampedArray(320 * 240 * 3);
  let s = 12345;
  for (let y = 0; y < 240; y++) {
    for (let x = 0; x < 320; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const v = (f(x, y) + ((s >>> 16) / 65536 - 0.5) * 0.03) * 255;
      rgb.fill(v, (y * 320 + x) * 3, (y * 320 + x) * 3 + 3);
    }
  }
  return sharp(new Uint8Array(rgb.buffer), { raw: { width: 320, height: 240, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

describe("buildBlemishModel", () => {
  const { onnx, manifest } = buildBlemishModel();
  let clf: Classifier;

  beforeAll(async () => {
    clf = await Classifier.create(onnx, manifest, { intraOpThreads: 1 });
    await clf.warmup();
  });
  afterAll(() => clf.close());

  it("comes with a valid manifest that the model matches, and builds reproducibly", async () => {
    expect(compile(ModelManifest).issues(manifest)).toEqual([]);
    expect(manifest.input).toMatchObject({ name: "image", width: 64, height: 64, channels: 3 });
    expect(manifest.labels).toEqual(["ok", "defect"]);
    await checkModelAgainstManifest(onnx, manifest);
    expect(Buffer.from(buildBlemishModel().onnx).equals(Buffer.from(onnx))).toBe(true);
    const small = buildBlemishModel({ width: 48, height: 32 });
    expect(small.manifest.input).toMatchObject({ width: 48, height: 32 });
    await checkModelAgainstManifest(small.onnx, small.manifest);
  });

  it("ignores lighting gradients and streaks, and sees a spot on top of them", async () => {
    const gradient = (x: number, y: number) => 0.25 + (0.6 * x) / 320 + (0.1 * y) / 240;
    const streaks = (x: number, y: number) => gradient(x, y) + (y % 4 === 0 ? 0.03 : y % 7 === 0 ? -0.03 : 0);
    const spot = (x: number, y: number) => streaks(x, y) - (Math.hypot(x - 200, y - 100) <= 6 ? 0.3 : 0);
    const flat = await clf.infer(await lumJpeg(() => 0.55));
    const lit = await clf.infer(await lumJpeg(gradient));
    const brushed = await clf.infer(await lumJpeg(streaks));
    const spotted = await clf.infer(await lumJpeg(spot));
    for (const c of [flat, lit, brushed]) expect(c.result).toMatchObject({ label: "ok", finding: false });
    expect(spotted.result).toMatchObject({ label: "defect", finding: true });
    const sum = Object.values(spotted.result.scores).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5); // the graph's own Softmax
  });

  it(`classifies synthetic frames (2 surfaces x seeds 1..3 x ${FRAMES_PER_CAMERA}) at ≥ 97% with ≤ 3% false positives`, async () => {
    const confusion = { tp: 0, fn: 0, fp: 0, tn: 0 };
    const missed: Record<string, number> = {};
    const latencies: number[] = [];
    for (const surface of surfaceKinds) {
      for (const seed of [1, 2, 3]) {
        for (let i = 0; i < FRAMES_PER_CAMERA; i++) {
          const frame = await renderFrame(i, { seed, surface });
          const c = await clf.infer(frame.jpeg);
          latencies.push(c.latencyMs.total);
          if (frame.defect && c.result.finding) confusion.tp++;
          else if (frame.defect) {
            confusion.fn++;
            missed[frame.defect.type] = (missed[frame.defect.type] ?? 0) + 1;
          } else if (c.result.finding) confusion.fp++;
          else confusion.tn++;
        }
      }
    }
    const total = confusion.tp + confusion.fn + confusion.fp + confusion.tn;
    const accuracy = (confusion.tp + confusion.tn) / total;
    const fpRate = confusion.fp / (confusion.fp + confusion.tn);
    const recall = confusion.tp / (confusion.tp + confusion.fn);
    const meanMs = latencies.reduce((a, b) => a + b, 0) / latencies.length;
    console.log(
      `blemish model on ${total} synth frames: ${JSON.stringify(confusion)} accuracy ${(accuracy * 100).toFixed(2)}% ` +
        `recall ${(recall * 100).toFixed(2)}% FP rate ${(fpRate * 100).toFixed(2)}% missed ${JSON.stringify(missed)} ` +
        `mean infer ${meanMs.toFixed(2)} ms (decode+preprocess+ORT, 1 thread)`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.97);
    expect(fpRate).toBeLessThanOrEqual(0.03);
    // every defect type has to be found, not just the easy ones
    for (const n of Object.values(missed)) expect(n / (confusion.tp + confusion.fn)).toBeLessThan(0.03);
  });
});
