import type { RunParams, Tiling } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { chooseRecipe } from "../src/training/recipe/recipe.js";
import type { SnapshotFacts } from "../src/training/recipe/snapshot-facts.js";

/* The automatic recipe's tiling choice (docs/training.md, "Tiling"), from measured snapshot facts. */

function facts(longSide: number, ratio: number, smallPx: number | null, objects = 100): SnapshotFacts {
  return {
    splits: { train: 70, val: 15, test: 15 },
    ratio,
    longSide,
    gray: { checked: 10, gray: 10, total: 100 },
    objects: { count: objects, measured: objects, smallShare: smallPx === null ? null : smallPx / longSide },
    counts: { "with objects": 50, "without objects": 20 },
  };
}

function recipe(task: RunParams["task"], f: SnapshotFacts, o: { tiling?: Tiling | false; budgetSec?: number } = {}) {
  const r = chooseRecipe({
    task,
    facts: f,
    hyper: {},
    hyperBy: {},
    threads: null,
    ...(o.budgetSec ? { budgetSec: o.budgetSec } : {}),
    ...(o.tiling !== undefined ? { tiling: { value: o.tiling, by: "the run" } } : {}),
  });
  return { ...r, why: r.reasons.find((x) => x.key === "tiling")! };
}

describe("automatic recipes: tiling", () => {
  it("tiles 1080p frames whose small defects would shrink below what the model sees, at native resolution or just enough", () => {
    // 5 px defects on 1920 px frames: 0.8 px at 320 px; detection wants 8, so native resolution is the best tiles give
    const det = recipe("detection", facts(1920, 16 / 9, 5));
    expect(det.input).toMatchObject({ width: 320, height: 176 });
    expect(det.tiling).toEqual({ width: 320, height: 176, overlap: 32 });
    expect(det.why.why).toMatch(
      /keep ≈ 0\.8 px with the whole frame at 320×176, under 8 px; tiles of 320×176 frame px/,
    );
    expect(det.why.why).toContain("100 % of native resolution");
    // segmentation wants 4 px: tiles 1.25× the input, downscaled, keep 4 px and are fewer
    const seg = recipe("segmentation", facts(1920, 16 / 9, 5));
    expect(seg.input).toMatchObject({ width: 320, height: 176 });
    expect(seg.tiling).toEqual({ width: 400, height: 224, overlap: 32 });
    expect(seg.why.why).toContain("keep ≈ 4.0 px (80 % of native resolution)");
  });

  it("does not tile when the objects keep enough pixels, without objects, for classification, or on frames barely larger than a tile", () => {
    expect(recipe("detection", facts(640, 4 / 3, 40)).tiling).toBeNull();
    expect(recipe("detection", facts(640, 4 / 3, 40)).why.why).toContain("≥ 8 px");
    expect(recipe("segmentation", facts(1920, 16 / 9, null)).why).toMatchObject({
      value: "off",
      why: "no labelled objects to size",
    });
    expect(recipe("classification", facts(1920, 16 / 9, 2)).tiling).toBeNull();
    // 400 px frames, 1 px objects: a tile is the frame; tiling cannot help
    const tiny = recipe("segmentation", facts(400, 1, 1));
    expect(tiny.tiling).toBeNull();
    expect(tiny.why.why).toContain("under 1.5 tiles");
  });

  it("counts tiles, not images, in the time budget's epoch estimate", () => {
    const whole = recipe("detection", facts(1920, 16 / 9, 5), { tiling: false, budgetSec: 1800 });
    const tiled = recipe("detection", facts(1920, 16 / 9, 5), { budgetSec: 1800 });
    expect(Number(tiled.reasons.find((r) => r.key === "epochs")!.value)).toBeLessThan(
      Number(whole.reasons.find((r) => r.key === "epochs")!.value),
    );
    expect(tiled.reasons.find((r) => r.key === "epochs")!.why).toMatch(/train \+ \d+ val tiles at/);
  });

  it("keeps given tiles and --no-tile, fits the input to small tiles, and refuses nonsense with KENSA_ERR_TILING_INVALID", () => {
    const off = recipe("detection", facts(1920, 16 / 9, 5), { tiling: false });
    expect(off.tiling).toBeNull();
    expect(off.why).toMatchObject({ value: "off", why: "set by the run" });
    const given = recipe("detection", facts(1920, 16 / 9, 5), { tiling: { width: 256, height: 256, overlap: 16 } });
    expect(given.tiling).toEqual({ width: 256, height: 256, overlap: 16 });
    expect(given.input).toMatchObject({ width: 256, height: 256 });
    expect(given.why.why).toBe("set by the run");
    const bad =
      (t: Tiling, task: RunParams["task"] = "detection") =>
      () =>
        recipe(task, facts(1920, 16 / 9, 5), { tiling: t });
    expect(bad({ width: 256, height: 256, overlap: 128 })).toThrow(
      expect.objectContaining({ code: "KENSA_ERR_TILING_INVALID" }),
    );
    expect(bad({ width: 256, height: 256, overlap: 16 }, "classification")).toThrow(
      /classification has no per-tile result/,
    );
  });
});
