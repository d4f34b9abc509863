import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ModelManifest, parseManifest } from "@kensa/contracts";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bestShift,
  decodeReferences,
  Inferencer,
  inferMap,
  loadModel,
  preprocess,
  type RawImage,
  referenceFor,
  shiftImage,
} from "../src/index.js";

const TRAINER = join(dirname(fileURLToPath(import.meta.url)), "../../../trainers/torch");
const PYTHON = process.env.KENSA_PYTHON ?? "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;

/** A printed-label-like grey image: dark 4×3 marks on a grid of 8 px cells, moved by (dx, dy), times gain. */
function label(cells: boolean[], size: number, dx = 0, dy = 0, gain = 1): RawImage {
  const data = new Uint8Array(size * size).fill(Math.round(200 * gain));
  const n = size / 8;
  cells.forEach((on, i) => {
    if (!on) return;
    const x0 = (i % n) * 8 + 2 + dx;
    const y0 = Math.floor(i / n) * 8 + 2 + dy;
    for (let y = Math.max(0, y0); y < Math.min(size, y0 + 3); y++) {
      for (let x = Math.max(0, x0); x < Math.min(size, x0 + 4); x++) data[y * size + x] = Math.round(50 * gain);
    }
  });
  return { data, width: size, height: size, channels: 1 };
}

const cells = Array.from({ length: 64 }, (_, i) => (i * 7919) % 5 < 2);

describe("reference alignment", () => {
  it("finds a known shift whatever the brightness", () => {
    const ref = label(cells, 64);
    for (const [dx, dy] of [
      [0, 0],
      [3, -2],
      [-4, 4],
      [1, 0],
    ] as const) {
      expect(bestShift(label(cells, 64, dx, dy, 1.15), ref, 4)).toEqual([dx, dy]);
    }
  });

  it("repeats edge pixels when shifting, like the trainer", () => {
    const img: RawImage = { data: Uint8Array.from({ length: 16 }, (_, i) => i), width: 4, height: 4, channels: 1 };
    const out = shiftImage(img, 1, -1).data;
    expect([...out.subarray(0, 4)]).toEqual([4, 4, 5, 6]);
    expect([...out.subarray(12, 16)]).toEqual([12, 12, 13, 14]);
  });

  it("prefers no shift when every shift costs the same, and maxShift 0 means pre-aligned", () => {
    const flat: RawImage = { data: new Uint8Array(32 * 32).fill(9), width: 32, height: 32, channels: 1 };
    expect(bestShift(flat, flat, 4)).toEqual([0, 0]);
    expect(bestShift(label(cells, 64, 2, 2), label(cells, 64), 0)).toEqual([0, 0]);
  });
});

async function referenceManifest(png: Buffer, sha = createHash("sha256").update(png).digest("hex")) {
  return parseManifest({
    task: "classification",
    input: { name: "image", width: 64, height: 64, channels: 1 },
    preprocessing: { mean: [0.5], std: [0.25] },
    labels: ["ok", "defect"],
    okLabels: ["ok"],
    postprocessing: { type: "classification", activation: "none" },
    thresholds: {},
    reference: {
      stack: "frame-reference-difference",
      maxShift: 4,
      defaultKey: "a",
      images: [{ key: "a", sha256: sha, png: png.toString("base64") }],
    },
  });
}

describe("reference images in a manifest", () => {
  it("decodes them, and names a missing key with KENSA_ERR_REFERENCE_MISSING", async () => {
    const ref = label(cells, 64);
    const png = await sharp(ref.data, { raw: { width: 64, height: 64, channels: 1 } })
      .png()
      .toBuffer();
    const refs = (await decodeReferences(await referenceManifest(png)))!;
    expect(Buffer.from(referenceFor(refs, undefined).data).equals(Buffer.from(ref.data))).toBe(true);
    expect(() => referenceFor(refs, "b")).toThrow(expect.objectContaining({ code: "KENSA_ERR_REFERENCE_MISSING" }));
  });

  it("refuses a PNG that is not what its sha256 says or not at input size", async () => {
    const png = await sharp(label(cells, 64).data, { raw: { width: 64, height: 64, channels: 1 } })
      .png()
      .toBuffer();
    await expect(decodeReferences(await referenceManifest(png, "0".repeat(64)))).rejects.toMatchObject({
      code: "KENSA_ERR_REFERENCE_INVALID",
    });
    const small = await sharp(png).resize(32, 32).png().toBuffer();
    await expect(decodeReferences(await referenceManifest(small))).rejects.toThrow(/32x32x1, the input is 64x64x1/);
  });

  it("rejects a default key that is not a reference's, and tiling with a reference", async () => {
    const png = await sharp(label(cells, 64).data, { raw: { width: 64, height: 64, channels: 1 } })
      .png()
      .toBuffer();
    const m = structuredClone(await referenceManifest(png)) as ModelManifest & Record<string, unknown>;
    expect(() => parseManifest({ ...m, reference: { ...m.reference!, defaultKey: "x" } })).toThrow(
      /\/reference\/defaultKey/,
    );
    expect(() => parseManifest({ ...m, tiling: { width: 64, height: 64 } })).toThrow(/cannot be combined with tiling/);
  });
});

interface Expected {
  file: string;
  key: string;
  shift: [number, number];
  probs: number[];
}

/** Trains a small reference-aware model with the built-in trainer's code; returns its directory and its verdicts. */
async function trainParity(task: string): Promise<{ dir: string; expected: Expected[] }> {
  const dir = await mkdtemp(join(tmpdir(), "kensa-reference-parity-"));
  const r = spawnSync(PYTHON, ["tests/reference_parity.py", dir, task], { cwd: TRAINER, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`reference_parity.py exited ${r.status}: ${r.stderr}`);
  return { dir, expected: JSON.parse(await readFile(join(dir, "expected.json"), "utf8")) };
}

describe.skipIf(!hasTorch)("trainer ↔ @kensa/vision parity for a reference-aware model", () => {
  let dir: string;
  let expected: Expected[];
  let inf: Inferencer;
  beforeAll(async () => {
    ({ dir, expected } = await trainParity("classification"));
    const manifest = parseManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
    inf = await Inferencer.create(join(dir, "model.onnx"), manifest, { intraOpThreads: 1 });
  }, 240_000);
  afterAll(async () => {
    await inf?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("aligns every part by the shift the trainer found", async () => {
    const refs = (await decodeReferences(inf.manifest))!;
    for (const e of expected) {
      const pre = await preprocess(await readFile(e.file), inf.manifest.input, inf.manifest.preprocessing);
      const frame = { data: pre.raw!, width: 48, height: 48, channels: 1 };
      expect(bestShift(frame, referenceFor(refs, e.key), 4), e.file).toEqual(e.shift);
    }
  });

  it("gives the trainer's probabilities for every part, and a coded error for an unknown key", async () => {
    expect(inf.manifest.reference?.images.map((i) => i.key)).toEqual(["p0", "p1", "p2"]);
    let worst = 0;
    for (const e of expected) {
      const out = await inf.infer(await readFile(e.file), e.key);
      if (out.result.task !== "classification") throw new Error("expected a classification");
      const byLabel = out.result.scores;
      worst = Math.max(worst, Math.abs(byLabel.ok! - e.probs[0]!), Math.abs(byLabel.defect! - e.probs[1]!));
    }
    expect(worst).toBeLessThan(1e-4);
    await expect(inf.infer(await readFile(expected[0]!.file), "p9")).rejects.toMatchObject({
      code: "KENSA_ERR_REFERENCE_MISSING",
    });
  });
});

describe.skipIf(!hasTorch)("trainer ↔ the hub's pixel evaluation path for a reference-aware segmentation model", () => {
  let dir: string;
  let expected: Expected[];
  beforeAll(async () => {
    ({ dir, expected } = await trainParity("segmentation"));
  }, 240_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("gives inferMap the trainer's per-class mask probabilities on every part", async () => {
    const manifest = parseManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
    const runner = await loadModel(join(dir, "model.onnx"), { intraOpThreads: 1 });
    try {
      let worst = 0;
      for (const e of expected) {
        const { map } = await inferMap(runner, manifest, await readFile(e.file), "mask", undefined, e.key);
        const plane = 48 * 48;
        for (let c = 0; c < 2; c++) {
          let sum = 0;
          for (let i = 0; i < plane; i++) sum += Number(map.data[c * plane + i]);
          worst = Math.max(worst, Math.abs(sum / plane - e.probs[c]!));
        }
      }
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await runner.release();
    }
  });
});
