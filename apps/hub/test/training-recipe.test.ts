import { createHash } from "node:crypto";
import type { LabelObject, RunParams, SnapshotItem, SnapshotManifest, TrainingSettings } from "@kensa/contracts";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { chooseRecipe, MAX_LONG } from "../src/training/recipe/recipe.js";
import { runRecipe } from "../src/training/recipe/run-recipe.js";
import { snapshotFacts } from "../src/training/recipe/snapshot-facts.js";
import { image, maskPng } from "./datasets-fixtures.js";

/*
 * Automatic recipes (apps/hub/src/training/recipe): snapshot manifests built here, their
 * images and masks real encoded bytes in a map the facts read like the blob store.
 */

type Task = RunParams["task"];
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

class Blobs {
  readonly map = new Map<string, Uint8Array>();
  put(b: Uint8Array): string {
    const id = sha(b);
    this.map.set(id, b);
    return id;
  }
  async get(id: string): Promise<Uint8Array | null> {
    return this.map.get(id) ?? null;
  }
}

/** grey pixels, encoded as an RGB JPEG (as many cameras and converters save them) or a 1-channel PNG */
async function grayImage(seed: number, width: number, height: number, as: "rgb-jpeg" | "png"): Promise<Buffer> {
  const data = Buffer.alloc(width * height);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17) % 200;
  const img = sharp(data, { raw: { width, height, channels: 1 } });
  return as === "png" ? img.png().toBuffer() : img.toColourspace("srgb").jpeg({ quality: 90 }).toBuffer();
}

interface ItemSpec {
  bytes: Buffer;
  width: number;
  height: number;
  classes?: string[];
  objects?: LabelObject[];
  split?: SnapshotItem["split"];
}

function manifest(task: Task, labels: string[], okLabels: string[], items: ItemSpec[], blobs: Blobs): SnapshotManifest {
  return {
    schema: "kensa.snapshot/v1",
    projectId: "prj_test",
    task,
    labels,
    okLabels,
    params: { seed: "kensa", ratios: { train: 0.7, val: 0.15, test: 0.15 }, groupBucketSec: 3600, include: "labeled" },
    items: items.map((s, i) => ({
      sampleId: `smp_${String(i).padStart(4, "0")}`,
      image: { sha256: blobs.put(s.bytes), format: "jpeg", width: s.width, height: s.height },
      label: {
        sha256: "0".repeat(64),
        content: { classes: s.classes ?? [], objects: s.objects ?? [], anomaly: null },
      },
      groupKey: `g${i}`,
      split: s.split ?? (i % 5 === 0 ? "val" : i % 5 === 1 ? "test" : "train"),
    })),
  };
}

const DEFAULTS: TrainingSettings["defaults"] = { input: null, hyper: {}, seed: 0, threads: null, trainer: "builtin" };

async function recipe(task: Task, m: SnapshotManifest, blobs: Blobs, o: Partial<Parameters<typeof runRecipe>[0]> = {}) {
  const r = await runRecipe({ task, manifest: m, blobs, create: {}, defaults: DEFAULTS, threads: null, ...o });
  const why = (key: string) => r.recipe!.reasons.find((x) => x.key === key)!;
  return { ...r, why };
}

/** n colour detection frames of w×h with one square box of `box` px each */
async function boxFrames(n: number, w: number, h: number, box: number, blobs: Blobs): Promise<SnapshotManifest> {
  const items: ItemSpec[] = [];
  for (let i = 0; i < n; i++) {
    items.push({
      bytes: await image(i, "jpeg", 32, 24),
      width: w,
      height: h,
      classes: ["scratch"],
      objects: [{ label: "scratch", box: { x: 10, y: 10, w: box + (i % 3), h: box } }],
    });
  }
  return manifest("detection", ["scratch"], [], items, blobs);
}

describe("automatic recipes: input size", () => {
  it("large frames with small boxes get a larger input than small frames with large boxes, capped for the CPU", async () => {
    const blobs = new Blobs();
    const small = await recipe("detection", await boxFrames(20, 256, 192, 48, blobs), blobs);
    const large = await recipe("detection", await boxFrames(20, 1280, 960, 24, blobs), blobs);
    // 48 px boxes on 256 px frames keep ≥ 8 px at the default 160
    expect(small.input).toMatchObject({ width: 160, height: 128 });
    expect(small.why("input").why).toContain("already at the detection default 160 px");
    // 24 px on 1280 px needs 8 / (24 / 1280) ≈ 427 px: capped
    expect(large.input.width).toBe(MAX_LONG.detection);
    expect(large.input.height).toBe(240);
    expect(large.input.width % 16).toBe(0);
    expect(large.why("input").why).toMatch(/≈ 24 px on 1280 px images.*capped at 320 px for CPU training/);
  });

  it("moderately small boxes get just the input they need, in multiples of 16", async () => {
    const blobs = new Blobs();
    // 8 / (20 / 640) = 256
    const r = await recipe("detection", await boxFrames(20, 640, 640, 20, blobs), blobs);
    expect(r.input).toMatchObject({ width: 256, height: 256 });
  });

  it("thin masks (a scratch's thickness, not its box) on large frames raise a segmentation input", async () => {
    const blobs = new Blobs();
    const items: ItemSpec[] = [];
    for (let i = 0; i < 20; i++) {
      const thin = blobs.put(await maskPng(640, 480, { x: 20, y: 100 + i, w: 400, h: 3 }));
      items.push({
        bytes: await image(i, "jpeg", 32, 24),
        width: 640,
        height: 480,
        classes: ["scratch"],
        objects: [{ label: "scratch", mask: thin }],
      });
    }
    const m = manifest("segmentation", ["background", "scratch"], ["background"], items, blobs);
    const facts = await snapshotFacts("segmentation", m, blobs);
    expect(facts.objects).toMatchObject({ count: 20, measured: 20 });
    expect(facts.objects.smallShare! * 640).toBeCloseTo(3, 5);
    const r = await recipe("segmentation", m, blobs);
    // 4 / (3 / 640) ≈ 853 → capped at 320; aspect 4:3 kept
    expect(r.input).toMatchObject({ width: 320, height: 240 });
  });

  it("never asks for more pixels than the images have", async () => {
    const blobs = new Blobs();
    const r = await recipe("detection", await boxFrames(12, 96, 64, 4, blobs), blobs);
    expect(r.input).toMatchObject({ width: 96, height: 64 });
  });
});

describe("automatic recipes: channels and augmentations", () => {
  it("one channel when every image is grayscale (grey PNGs and grey saved as RGB JPEG), vertical flips on", async () => {
    const blobs = new Blobs();
    const items: ItemSpec[] = [];
    for (let i = 0; i < 12; i++) {
      const as = i % 2 ? "png" : "rgb-jpeg";
      items.push({ bytes: await grayImage(i, 200, 200, as), width: 200, height: 200, classes: [i % 2 ? "ok" : "ng"] });
    }
    const r = await recipe("classification", manifest("classification", ["ok", "ng"], ["ok"], items, blobs), blobs);
    expect(r.input.channels).toBe(1);
    expect(r.why("channels").why).toContain("all 12 images are grayscale");
    expect(r.hyper.augment).toMatchObject({ hflip: true, vflip: true, rotate: true });
    expect(r.why("augment").why).toContain("no up or down");
  });

  it("three channels and no vertical flips once one image has colour", async () => {
    const blobs = new Blobs();
    const items: ItemSpec[] = [];
    for (let i = 0; i < 12; i++) {
      const bytes = i === 7 ? await image(i, "jpeg", 64, 64) : await grayImage(i, 64, 64, "rgb-jpeg");
      items.push({ bytes, width: 64, height: 64, classes: [i % 2 ? "ok" : "ng"] });
    }
    const r = await recipe("classification", manifest("classification", ["ok", "ng"], ["ok"], items, blobs), blobs);
    expect(r.input.channels).toBe(3);
    expect(r.hyper.augment).toMatchObject({ hflip: true, vflip: false });
  });
});

describe("automatic recipes: class balancing", () => {
  async function cls(counts: Record<string, number>) {
    const blobs = new Blobs();
    const items: ItemSpec[] = [];
    const bytes = await image(1, "jpeg", 32, 32);
    for (const [label, n] of Object.entries(counts)) {
      for (let i = 0; i < n; i++) items.push({ bytes, width: 32, height: 32, classes: [label], split: "train" });
    }
    items.push({ bytes, width: 32, height: 32, classes: ["ok"], split: "val" });
    return recipe("classification", manifest("classification", Object.keys(counts), ["ok"], items, blobs), blobs);
  }

  it("balances when the largest class has ≥ 3× the smallest, and not otherwise", async () => {
    const skewed = await cls({ ok: 30, dent: 5, scratch: 12 });
    expect(skewed.hyper.balanceClasses).toBe(true);
    expect(skewed.why("balanceClasses").why).toContain("ok 30, dent 5, scratch 12; largest / smallest 6.0 ≥ 3");
    const even = await cls({ ok: 20, dent: 15 });
    expect(even.hyper.balanceClasses).toBe(false);
    expect(even.why("balanceClasses").why).toContain("1.3 < 3");
  });
});

describe("automatic recipes: hand values win", () => {
  it("the run's input and the project's defaults are kept, and the reasons say who set them", async () => {
    const blobs = new Blobs();
    const m = await boxFrames(20, 1280, 960, 24, blobs);
    const r = await recipe("detection", m, blobs, {
      create: { input: { width: 96, height: 64, channels: 1 }, hyper: { augment: { vflip: true, noise: false } } },
      defaults: { ...DEFAULTS, hyper: { balanceClasses: true, epochs: 9 } },
    });
    expect(r.input).toEqual({ width: 96, height: 64, channels: 1 });
    expect(r.why("input")).toMatchObject({ value: "96×64", why: "set by the run" });
    expect(r.why("channels")).toMatchObject({ value: "1", why: "set by the run" });
    expect(r.hyper).toMatchObject({ epochs: 9, balanceClasses: true });
    expect(r.why("epochs")).toMatchObject({ value: "9", why: "set by the project's training defaults" });
    expect(r.why("balanceClasses").why).toBe("set by the project's training defaults");
    expect(r.hyper.augment).toMatchObject({ vflip: true, noise: false, hflip: true });
    expect(r.why("augment").why).toContain("set by the run: vflip,-noise");
  });

  it("the trainer's augment defaults stored in older project settings do not count as chosen", async () => {
    const blobs = new Blobs();
    const items: ItemSpec[] = [];
    for (let i = 0; i < 6; i++)
      items.push({ bytes: await grayImage(i, 64, 64, "png"), width: 64, height: 64, classes: [i % 2 ? "ok" : "ng"] });
    const m = manifest("classification", ["ok", "ng"], ["ok"], items, blobs);
    const stored = { hflip: true, vflip: false, rotate: true, brightnessContrast: true, noise: true, crop: true };
    const r = await recipe("classification", m, blobs, { defaults: { ...DEFAULTS, hyper: { augment: stored } } });
    expect(r.hyper.augment).toMatchObject({ vflip: true });
    expect(r.why("augment").why).not.toContain("set by");
    const chosen = await recipe("classification", m, blobs, {
      defaults: { ...DEFAULTS, hyper: { augment: { ...stored, noise: false } } },
    });
    expect(chosen.hyper.augment).toMatchObject({ vflip: false, noise: false });
    expect(chosen.why("augment").why).toContain("set by the project's training defaults");
  });

  it("a run's budget beats the project's default epochs; the run's own epochs beat its budget", async () => {
    const blobs = new Blobs();
    const m = await boxFrames(20, 256, 192, 48, blobs);
    const defaults = { ...DEFAULTS, hyper: { epochs: 9 } };
    const byBudget = await recipe("detection", m, blobs, { create: { budgetSec: 1200 }, defaults });
    expect(byBudget.budgetSec).toBe(1200);
    expect(byBudget.hyper.epochs).not.toBe(9);
    expect(byBudget.why("epochs").why).toContain("20m budget");
    const byHand = await recipe("detection", m, blobs, { create: { budgetSec: 1200, hyper: { epochs: 4 } }, defaults });
    expect(byHand.hyper.epochs).toBe(4);
    expect(byHand.why("epochs").why).toBe("set by the run");
  });
});

describe("automatic recipes: epochs from a time budget", () => {
  const facts = (train: number) => ({
    splits: { train, val: Math.round(train / 5), test: Math.round(train / 5) },
    ratio: 1,
    longSide: 200,
    gray: { checked: 1, gray: 1, total: 1 },
    objects: { count: 0, measured: 0, smallShare: null },
    counts: { a: train / 2, b: train / 2 },
  });
  const epochs = (budgetSec: number, train: number, threads: number | null = null) =>
    chooseRecipe({ task: "classification", facts: facts(train), hyper: {}, hyperBy: {}, budgetSec, threads }).hyper
      .epochs!;

  it("more time, more epochs; more images or fewer threads, fewer", () => {
    expect(epochs(1800, 1000)).toBeGreaterThan(epochs(600, 1000));
    expect(epochs(600, 1000)).toBeGreaterThan(epochs(600, 4000));
    expect(epochs(600, 1000, 1)).toBeLessThan(epochs(600, 1000));
    // at least one epoch, however short the budget
    expect(epochs(10, 100_000)).toBe(1);
  });

  it("without a budget the trainer's default epochs stay, and the reason says how to set one", () => {
    const r = chooseRecipe({ task: "classification", facts: facts(100), hyper: {}, hyperBy: {}, threads: null });
    expect(r.hyper.epochs).toBeUndefined();
    expect(r.reasons.find((x) => x.key === "epochs")).toMatchObject({ value: "30" });
  });

  it("a budget too short for enough epochs at a large input shrinks the input", async () => {
    const blobs = new Blobs();
    const m = await boxFrames(400, 1280, 960, 24, blobs);
    const roomy = await recipe("detection", m, blobs, { create: { budgetSec: 24 * 3600 } });
    expect(roomy.input.width).toBe(320);
    const tight = await recipe("detection", m, blobs, { create: { budgetSec: 120 } });
    expect(tight.input.width).toBeLessThan(320);
    expect(tight.input.width).toBeGreaterThanOrEqual(160);
    expect(tight.why("input").why).toContain("lowered from 320 px");
  });

  it("segmentation trades input pixels for epochs until 40 fit (or the 160 px base is reached)", async () => {
    const blobs = new Blobs();
    const items: ItemSpec[] = [];
    for (let i = 0; i < 200; i++) {
      // frames under 1.5 tiles across: whole frames, no tiling (as magnetic tile's 360 px)
      const thin = blobs.put(await maskPng(360, 300, { x: 20, y: 50 + (i % 200), w: 300, h: 3 }));
      items.push({
        bytes: await image(i, "jpeg", 32, 24),
        width: 360,
        height: 300,
        classes: ["scratch"],
        objects: [{ label: "scratch", mask: thin }],
      });
    }
    const m = manifest("segmentation", ["background", "scratch"], ["background"], items, blobs);
    const lowered: number[] = [];
    for (const budgetSec of [300, 900, 1800, 3600, 7200, 24 * 3600]) {
      const r = await recipe("segmentation", m, blobs, { create: { budgetSec } });
      const long = Math.max(r.input.width, r.input.height);
      // 40 epochs or more, or already at the segmentation base of 160 px
      expect(r.hyper.epochs! >= 40 || long === 160, `${budgetSec} s: ${long} px, ${r.hyper.epochs} epochs`).toBe(true);
      if (long < 320) lowered.push(budgetSec);
      if (long < 320) expect(r.why("input").why).toContain("fits 40+ epochs");
    }
    // a short budget lowered the input; a day's budget kept what the thin masks ask for
    expect(lowered).toContain(300);
    expect(lowered).not.toContain(24 * 3600);
  });
});
