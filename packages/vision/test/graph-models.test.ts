import { compile, InferenceResult, ModelManifest } from "@kensa/contracts";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildResNet18, buildResNet18Int8, buildUNet, buildUNetInt8 } from "../src/graph/index.js";
import { checkModelAgainstManifest, Inferencer, inputDims, loadModel, type ModelRunner } from "../src/index.js";

const validManifest = compile(ModelManifest);
const validResult = compile(InferenceResult);

/** Smooth colour gradients, normalised as the ResNet manifest does: an image-like input. */
function imageTensor(seed: number): Float32Array {
  const size = 224 * 224;
  const out = new Float32Array(3 * size);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < size; i++) {
      const x = i % 224;
      const y = (i - x) / 224;
      const v = 0.5 + 0.4 * Math.sin((x * (seed + 1)) / 40 + c * seed) * Math.cos(y / (25 + seed));
      out[c * size + i] = (v - 0.45) / 0.226;
    }
  }
  return out;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

function pearson(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

describe("ResNet18 (torchvision topology, seeded weights)", () => {
  const fp32 = buildResNet18();
  let int8: Awaited<ReturnType<typeof buildResNet18Int8>>;
  let runners: ModelRunner[] = [];

  beforeAll(async () => {
    int8 = await buildResNet18Int8();
    runners = [await loadModel(fp32.onnx), await loadModel(int8.onnx)];
  });
  afterAll(async () => {
    for (const r of runners) await r.release();
  });

  it("has ResNet18's size and I/O, builds reproducibly, and matches its manifest", async () => {
    // torchvision's 11,689,512 parameters less one of BN's two per channel (4,800) once folded:
    // 11,684,712 float32 = 46.74 MB of weights
    expect(fp32.onnx.length).toBeGreaterThan(11_684_712 * 4);
    expect(fp32.onnx.length).toBeLessThan(11_684_712 * 4 + 100_000);
    // int8 weights: about a quarter (the 2 MB FC layer stays float)
    expect(int8.onnx.length).toBeLessThan(fp32.onnx.length / 3);
    expect(Buffer.from(buildResNet18().onnx).equals(Buffer.from(fp32.onnx))).toBe(true);
    expect(Buffer.from(buildResNet18({ seed: 2 }).onnx).equals(Buffer.from(fp32.onnx))).toBe(false);
    expect(validManifest.issues(fp32.manifest)).toEqual([]);
    expect(fp32.manifest.input).toMatchObject({ name: "input", width: 224, height: 224 });
    expect(runners[0]!.inputNames).toEqual(["input"]);
    expect(runners[0]!.outputNames).toEqual(["logits"]);
    await checkModelAgainstManifest(int8.onnx, int8.manifest);
  });

  it("answers [N, 1000] logits, and the int8 twin tracks the float model", async () => {
    const dims = inputDims(fp32.manifest.input);
    for (const seed of [1, 5]) {
      const data = imageTensor(seed);
      const [a, b] = await Promise.all(runners.map((r) => r.run({ input: { data, dims } })));
      expect(a!.logits!.dims).toEqual([1, 1000]);
      expect(b!.logits!.dims).toEqual([1, 1000]);
      // calibrated per-channel int8 keeps the logits' shape and the top class, not every digit
      expect(pearson(a!.logits!.data, b!.logits!.data)).toBeGreaterThan(0.99);
      expect(argmax(b!.logits!.data)).toBe(argmax(a!.logits!.data));
    }
    const two = await runners[0]!.run({ input: { data: new Float32Array(2 * 3 * 224 * 224), dims: [2, 3, 224, 224] } });
    expect(two.logits!.dims).toEqual([2, 1000]);
  });
});

describe("U-Net (4 levels, 32-64-128-256 channels, 256×256)", () => {
  it("loads, matches its manifest and segments a frame into schema-valid regions", async () => {
    const { onnx, manifest } = buildUNet();
    expect(validManifest.issues(manifest)).toEqual([]);
    await checkModelAgainstManifest(onnx, manifest);
    const runner = await loadModel(onnx);
    const out = await runner.run({ input: { data: new Float32Array(3 * 256 * 256), dims: [1, 3, 256, 256] } });
    expect(out.logits!.dims).toEqual([1, 2, 256, 256]);
    await runner.release();

    const inf = await Inferencer.create(onnx, manifest);
    const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#8a8" } })
      .jpeg()
      .toBuffer();
    const r = await inf.infer(jpeg);
    await inf.close();
    expect(r.frame).toEqual({ width: 640, height: 480 });
    expect(r.result.task).toBe("segmentation");
    expect(validResult.check(r.result)).toBe(true);
  });

  it("has an int8 twin whose masks agree with the float model's", async () => {
    const fp32 = buildUNet();
    const int8 = await buildUNetInt8();
    await checkModelAgainstManifest(int8.onnx, int8.manifest);
    const [a, b] = await Promise.all([loadModel(fp32.onnx), loadModel(int8.onnx)]);
    const size = 256 * 256;
    const data = new Float32Array(3 * size);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i / 997) * Math.cos((i % 256) / 31) * 1.5;
    const dims = [1, 3, 256, 256];
    const [la, lb] = [
      (await a.run({ input: { data, dims } })).logits!,
      (await b.run({ input: { data, dims } })).logits!,
    ];
    await Promise.all([a.release(), b.release()]);
    expect(lb.dims).toEqual([1, 2, 256, 256]);
    expect(pearson(la.data, lb.data)).toBeGreaterThan(0.98);
    let agree = 0;
    for (let i = 0; i < size; i++) if (la.data[i]! > la.data[size + i]! === lb.data[i]! > lb.data[size + i]!) agree++;
    expect(agree / size).toBeGreaterThan(0.95);
  });

  it("takes other shapes: levels, channels, size", async () => {
    const small = buildUNet({ size: 64, channels: [8, 16, 32], labels: ["bg", "a", "b"] });
    const runner = await loadModel(small.onnx, { intraOpThreads: 1 });
    const out = await runner.run({ input: { data: new Float32Array(3 * 64 * 64), dims: [1, 3, 64, 64] } });
    expect(out.logits!.dims).toEqual([1, 3, 64, 64]);
    await runner.release();
    expect(() => buildUNet({ size: 100 })).toThrow(/divisible by 2\^3/);
  });
});
