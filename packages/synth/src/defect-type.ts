import type { SurfaceKind } from "./surface-kind.js";

export type DefectType = "spot" | "scratch" | "stain" | "crack" | "hole" | "missing-feature" | "extra-feature";

/** Every defect type, in class-index order: `defectClassIndex[defectTypes[k]] === k + 1`. */
export const defectTypes: readonly DefectType[] = [
  "spot",
  "scratch",
  "stain",
  "crack",
  "hole",
  "missing-feature",
  "extra-feature",
];

/**
 * The value a defect's pixels take in a class mask (PNG masks, `SynthPixels.mask`): 0 is
 * background, k is the k-th entry of `defectTypes`. Also the COCO category id. Fixed forever:
 * new types are appended, so masks written today keep their meaning.
 */
export const defectClassIndex: Readonly<Record<DefectType, number>> = Object.freeze(
  Object.fromEntries(defectTypes.map((t, k) => [t, k + 1])) as Record<DefectType, number>,
);

/** A rendered defect. `box` is [x, y, width, height] in frame pixels: the tight box of its mask. */
export interface SynthDefect {
  type: DefectType;
  box: [x: number, y: number, w: number, h: number];
  /** pixels in this defect's mask (its own, even where a later defect overlaps it) */
  area: number;
}

const bySurface: Record<SurfaceKind, readonly DefectType[]> = {
  "brushed-metal": ["spot", "scratch", "stain", "crack", "hole"],
  cast: ["spot", "scratch", "stain", "crack", "hole"],
  // cloth does not crack or scratch; it stains, pills (spot) and tears (hole)
  "woven-fabric": ["spot", "stain", "hole"],
  "ceramic-tile": ["spot", "scratch", "stain", "crack", "hole", "missing-feature", "extra-feature"],
  // a drilled board has holes by design; an unwanted one is rare next to bridges and lifted pads
  pcb: ["spot", "scratch", "stain", "crack", "missing-feature", "extra-feature"],
};

/** The defect types that make sense on `surface`: missing and extra features need features (PCB, tiles). */
export function defectTypesFor(surface: SurfaceKind): readonly DefectType[] {
  return bySurface[surface];
}

// The three types the plain surfaces drew before cracks and holes existed. Drawn by default on
// those surfaces so that every (seed, index, options) that worked before renders the same bytes.
const legacyDefects: readonly DefectType[] = ["spot", "scratch", "stain"];

/** The defect types a camera draws when its options do not say. */
export function defaultDefectsFor(surface: SurfaceKind): readonly DefectType[] {
  return surface === "brushed-metal" || surface === "cast" ? legacyDefects : bySurface[surface];
}
