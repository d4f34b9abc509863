import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseManifest } from "@kensa/contracts";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildYoloV8Model } from "../src/graph/index.js";
import { Inferencer } from "../src/index.js";

const onnx = buildYoloV8Model({
  width: 64,
  height: 64,
  candidates: [{ cx: 32, cy: 32, w: 16, h: 8, scores: [0.1, 0.9] }],
});
const manifest = parseManifest({
  task: "detection",
  input: { name: "images", width: 64, height: 64 },
  preprocessing: { resize: "letterbox" },
  labels: ["ok-part", "defect"],
  okLabels: ["ok-part"],
  postprocessing: { type: "detection", layout: "yolov8" },
  thresholds: {},
});

describe("Inferencer", () => {
  let dir: string;
  let frame: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kensa-inferencer-"));
    await writeFile(join(dir, "model.onnx"), onnx);
    frame = await sharp({ create: { width: 128, height: 64, channels: 3, background: "#444" } })
      .jpeg()
      .toBuffer();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("loads from a file path as from bytes, and prepare + run equals infer", async () => {
    const byPath = await Inferencer.create(join(dir, "model.onnx"), manifest, { intraOpThreads: 1, spinning: false });
    const byBytes = await Inferencer.create(onnx, manifest, { intraOpThreads: 1 });
    expect(await byPath.warmup()).toBeGreaterThan(0);
    const a = await byPath.infer(frame);
    const b = await byBytes.run(await byBytes.prepare(frame));
    // 128×64 letterboxed into 64×64: scale 0.5, 16 px of padding above → box (24,28)-(40,36) → [48,24,32,16]
    expect(a.result).toEqual({
      task: "detection",
      detections: [{ label: "defect", score: expect.closeTo(0.9, 6), box: [48, 24, 32, 16] }],
      finding: true,
    });
    expect(b.result).toEqual(a.result);
    expect(b.latencyMs.total).toBeGreaterThanOrEqual(b.latencyMs.preprocess + b.latencyMs.inference);
    await Promise.all([byPath.close(), byBytes.close()]);
  });

  it("warmup proves the output shape; a missing file is not a loadable model", async () => {
    const three = { ...manifest, labels: ["ok-part", "defect", "chip"] };
    const inf = await Inferencer.create(onnx, three, { intraOpThreads: 1 });
    await expect(inf.warmup()).rejects.toMatchObject({ code: "KENSA_ERR_MODEL_MANIFEST_MISMATCH" });
    await inf.close();
    await expect(Inferencer.create(join(dir, "missing.onnx"), manifest)).rejects.toMatchObject({
      code: "KENSA_ERR_MODEL_INVALID_ONNX",
    });
  });
});
