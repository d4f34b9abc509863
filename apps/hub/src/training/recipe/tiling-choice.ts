import { KensaError, type RecipeReason, type RunParams, type Tiling } from "@kensa/contracts";
import type { SnapshotFacts } from "./snapshot-facts.js";

/**
 * px the small objects must keep at the model input: detection predicts on a stride-4 grid (an
 * object should cover two cells); the U-Net's output is full size, but a defect thinner than a
 * few pixels vanishes in its three poolings
 */
export const MIN_OBJECT_PX: Record<Exclude<RunParams["task"], "classification">, number> = {
  segmentation: 4,
  detection: 8,
  // anomaly maps are per pixel like a segmentation's; the sizes are those of labelled anomalies
  anomaly: 4,
};

/*
 * Whether a run trains (and its model infers) on tiles (docs/training.md, "Tiling"): when the
 * labelled objects would shrink below what the model can see at the chosen input, tiles cut
 * from the frames at their own resolution keep them whole.
 */

/** the frames' long side must be at least this many tiles for tiling to pay (else a larger input would do) */
export const MIN_TILES_ACROSS = 1.5;
/** px two tiles share: the trainer's objects and the seams' merge need a margin */
export const DEFAULT_OVERLAP = 32;
/** tiles the trainer cuts per labelled object, and background tiles per object tile (trainers/torch/kensa_trainer/tiling.py) */
const OBJECT_TILES = 2;
const BACKGROUND_PER_OBJECT_TILE = 1;
const MIN_BACKGROUND_TILES = 2;

export interface TilingChoice {
  tiling: Tiling | null;
  /** null for classification without a given tiling */
  reason: RecipeReason | null;
}

/**
 * The tiling for a run: given (`--tile`, `--no-tile`) wins and is checked
 * (KENSA_ERR_TILING_INVALID); else tiles of the input's size in frame px (native resolution)
 * when the small objects (10th percentile, as for the input) keep fewer than MIN_OBJECT_PX px
 * at `input`, keep at least that many at native resolution or closer, and the frames are
 * MIN_TILES_ACROSS tiles or more across. Larger tiles (downscaled to the input) when even native
 * resolution leaves more than the objects need.
 */
export function chooseTiling(
  task: RunParams["task"],
  facts: SnapshotFacts,
  input: { width: number; height: number },
  given?: { value: Tiling | false; by: string },
): TilingChoice {
  if (given) {
    if (given.value === false) return { tiling: null, reason: reason("off", `set by ${given.by}`) };
    checkGiven(task, given.value, input);
    const t = given.value;
    return { tiling: t, reason: reason(describe(t), `set by ${given.by}`) };
  }
  // classification cannot tile: no reason to give
  if (task === "classification") return { tiling: null, reason: null };
  const small = facts.objects.smallShare;
  if (small === null || small <= 0) return { tiling: null, reason: reason("off", "no labelled objects to size") };
  const minPx = MIN_OBJECT_PX[task];
  const long = Math.max(input.width, input.height);
  const atInput = small * long;
  const native = small * facts.longSide;
  if (atInput >= minPx) {
    return {
      tiling: null,
      reason: reason(
        "off",
        `the small objects keep ≈ ${atInput.toFixed(1)} px at ${input.width}×${input.height} (≥ ${minPx} px)`,
      ),
    };
  }
  // input px per frame px the objects need: 1 = native; below 1, tiles larger than the input
  const scale = Math.min(1, minPx / Math.max(native, 1e-9));
  const tw = Math.round(input.width / scale / 16) * 16;
  const th = Math.round(input.height / scale / 16) * 16;
  if (facts.longSide < MIN_TILES_ACROSS * Math.max(tw, th)) {
    return {
      tiling: null,
      reason: reason(
        "off",
        `the small objects keep ≈ ${atInput.toFixed(1)} px at ${input.width}×${input.height}, but the ${facts.longSide} px frames are under ${MIN_TILES_ACROSS} tiles of ${Math.max(tw, th)} px across`,
      ),
    };
  }
  const tiling: Tiling = {
    width: tw,
    height: th,
    overlap: Math.min(DEFAULT_OVERLAP, Math.floor(Math.min(tw, th) / 4)),
  };
  const keep = (small * facts.longSide * input.width) / tw;
  return {
    tiling,
    reason: reason(
      describe(tiling),
      `the small objects (≈ ${native.toFixed(1)} px on ${facts.longSide} px frames) would keep ≈ ${atInput.toFixed(1)} px with the whole frame at ${input.width}×${input.height}, under ${minPx} px; ` +
        `tiles of ${tw}×${th} frame px at ${input.width}×${input.height} keep ≈ ${keep.toFixed(1)} px (${(100 * scale).toFixed(0)} % of native resolution)`,
    ),
  };
}

/**
 * Training and validation samples the trainer will see with this tiling: object tiles plus
 * background tiles per training image, the whole grid per validation image (for the epoch estimate).
 */
export function tiledSplits(facts: SnapshotFacts, t: Tiling): SnapshotFacts["splits"] {
  const images = facts.splits.train + facts.splits.val + facts.splits.test;
  const objectsPerImage = images ? facts.objects.count / images : 0;
  const objectTiles = OBJECT_TILES * objectsPerImage;
  const perTrain = objectTiles + Math.max(MIN_BACKGROUND_TILES, BACKGROUND_PER_OBJECT_TILE * objectTiles);
  const w = facts.ratio >= 1 ? facts.longSide : facts.longSide * facts.ratio;
  const h = facts.ratio >= 1 ? facts.longSide / facts.ratio : facts.longSide;
  const across = (size: number, tile: number) =>
    size <= tile ? 1 : Math.ceil((size - t.overlap) / (tile - t.overlap));
  const grid = across(w, t.width) * across(h, t.height);
  return {
    train: Math.ceil(facts.splits.train * perTrain),
    val: facts.splits.val * grid,
    test: facts.splits.test * grid,
  };
}

function checkGiven(task: RunParams["task"], t: Tiling, input: { width: number; height: number }): void {
  const bad = (why: string) => {
    throw new KensaError("KENSA_ERR_TILING_INVALID", `tiling ${describe(t)}: ${why}`);
  };
  if (task === "classification")
    bad("classification has no per-tile result to merge; tile detection, segmentation or anomaly projects");
  if (t.overlap * 2 >= Math.min(t.width, t.height))
    bad(`the overlap must be less than half the tile's short side (${Math.min(t.width, t.height)} px)`);
  if (t.width < input.width || t.height < input.height) {
    bad(
      `tiles smaller than the ${input.width}×${input.height} input would be upscaled: use tiles of at least the input's size, or a smaller --input`,
    );
  }
}

function describe(t: Tiling): string {
  return `${t.width}×${t.height} px, overlap ${t.overlap} px`;
}

function reason(value: string, why: string): RecipeReason {
  return { key: "tiling", value, why };
}
