import type { RecipeReason, RunHyper, RunParams, Tiling, TrainerAugment } from "@kensa/contracts";
import { MAX_BUDGET_EPOCHS, planEpochs } from "./epoch-estimate.js";
import type { SnapshotFacts } from "./snapshot-facts.js";
import { chooseTiling, MIN_OBJECT_PX, tiledSplits } from "./tiling-choice.js";

/*
 * Automatic recipes (docs/training.md, "Automatic recipes"): a run that names no input size,
 * channels or hyper-parameter gets them chosen from its snapshot, each with the reason why. A
 * value given by the run or by the project's training defaults is kept and said to be.
 */

/** px of the long side a task starts from before the objects ask for more */
export const BASE_LONG: Record<RunParams["task"], number> = {
  classification: 128,
  segmentation: 160,
  detection: 160,
  anomaly: 160,
};
/** px: the largest long side a CPU trainer is given (a U-Net epoch at 320² is ≈ 6× one at 128²) */
export const MAX_LONG: Record<RunParams["task"], number> = {
  classification: 192,
  segmentation: 320,
  detection: 320,
  anomaly: 320,
};
/** classes whose largest / smallest count reaches this are balanced */
export const IMBALANCE_RATIO = 3;
/**
 * a budget whose epochs at the chosen input fall below this shrinks the input (down to the task's
 * base). Segmentation asks for more: a U-Net from scratch on defects of a few per cent of the
 * pixels keeps its validation IoU near 0 for its first epochs (magnetic tile: under 0.01 after
 * six), so a run of 15 larger epochs ended before it had learned anything (IoU 0.061 at
 * 176×208, against 0.205 for 45 epochs at 160×160).
 */
export const MIN_BUDGET_EPOCHS: Record<RunParams["task"], number> = {
  classification: 15,
  segmentation: 40,
  detection: 15,
  anomaly: 15,
};
/** the trainer contract's default epochs (TrainerHyper) */
const TRAINER_EPOCHS = 30;

export interface RecipeRequest {
  task: RunParams["task"];
  facts: SnapshotFacts;
  /** an input given by hand, and who gave it ("the run", "the project's training defaults") */
  input?: { value: RunParams["input"]; by: string };
  /** hyper-parameters given by hand, and who gave each key */
  hyper: RunHyper;
  hyperBy: Partial<Record<keyof RunHyper, string>>;
  budgetSec?: number;
  threads: number | null;
  /** tiles given by hand (false: whole frames), and who gave them; else the recipe decides */
  tiling?: { value: Tiling | false; by: string };
}

export interface Recipe {
  input: RunParams["input"];
  hyper: RunHyper;
  reasons: RecipeReason[];
  /** hyper.epochs was planned from the budget (the trainer may plan more or fewer as it measures) */
  budgetEpochs: boolean;
  /** null: whole frames */
  tiling: Tiling | null;
}

const round16 = (v: number) => Math.max(32, Math.round(v / 16) * 16);
const AUGMENT_KEYS = ["hflip", "vflip", "rotate", "brightnessContrast", "noise", "crop"] as const;

/** Chooses what was not given; every value in the result carries a reason. */
export function chooseRecipe(r: RecipeRequest): Recipe {
  const { task, facts } = r;
  const reasons: RecipeReason[] = [];
  const hyper: RunHyper = { ...r.hyper };
  const gray = facts.gray.checked > 0 && facts.gray.gray === facts.gray.checked;

  // ---- channels
  let channels: 1 | 3;
  let channelsWhy: string;
  if (r.input) {
    channels = r.input.value.channels === 1 ? 1 : 3;
    channelsWhy = `set by ${r.input.by}`;
  } else if (gray) {
    channels = 1;
    const of =
      facts.gray.checked === facts.gray.total
        ? `all ${facts.gray.total}`
        : `all ${facts.gray.checked} checked (of ${facts.gray.total}, spread over the snapshot)`;
    channelsWhy = `${of} images are grayscale: one channel carries everything and trains faster`;
  } else {
    channels = 3;
    channelsWhy = facts.gray.checked === 0 ? "no image could be read to check for colour" : "the images have colour";
  }

  // ---- input size and epochs (the budget may trade the one for the other)
  let long: number;
  let longWhy: string;
  if (r.input) {
    long = Math.max(r.input.value.width, r.input.value.height);
    longWhy = `set by ${r.input.by}`;
  } else ({ long, why: longWhy } = chooseLong(task, facts));
  const size = (l: number) =>
    r.input
      ? { width: r.input.value.width, height: r.input.value.height }
      : facts.ratio >= 1
        ? { width: round16(l), height: round16(l / facts.ratio) }
        : { width: round16(l * facts.ratio), height: round16(l) };
  let dims = size(long);
  const givenTile = r.tiling?.value;
  if (givenTile && !r.input && Math.max(givenTile.width, givenTile.height) < Math.max(dims.width, dims.height)) {
    // tiles smaller than the chosen input: the input is the tile (native resolution)
    dims = { width: givenTile.width, height: givenTile.height };
    longWhy = `the ${givenTile.width}×${givenTile.height} px tiles given, at native resolution (${longWhy})`;
  } else if (givenTile && !r.input && givenTile.width / givenTile.height !== dims.width / dims.height) {
    // the input takes the tiles' aspect, at the long side chosen
    const l = Math.max(dims.width, dims.height);
    dims =
      givenTile.width >= givenTile.height
        ? { width: round16(l), height: round16((l * givenTile.height) / givenTile.width) }
        : { width: round16((l * givenTile.width) / givenTile.height), height: round16(l) };
    longWhy += `; the tiles' aspect ${givenTile.width}×${givenTile.height}`;
  }
  const tile = chooseTiling(task, facts, dims, r.tiling);
  const planSplits = tile.tiling ? tiledSplits(facts, tile.tiling) : facts.splits;
  const unit = tile.tiling ? "tiles" : "images";
  let epochsWhy: string;
  let budgetEpochs = false;
  if (hyper.epochs !== undefined) {
    epochsWhy = `set by ${r.hyperBy.epochs ?? "the run"}`;
  } else if (r.budgetSec !== undefined) {
    let plan = planEpochs(task, planSplits, dims, r.budgetSec, r.threads);
    const chosenLong = long;
    // tiled runs keep their input: it is the tiles' resolution the objects were sized for
    while (!r.input && !tile.tiling && plan.epochs < MIN_BUDGET_EPOCHS[task] && long - 16 >= BASE_LONG[task]) {
      long -= 16;
      dims = size(long);
      plan = planEpochs(task, planSplits, dims, r.budgetSec, r.threads);
    }
    if (long !== chosenLong)
      longWhy += `; lowered from ${round16(chosenLong)} px so that the ${fmtSec(r.budgetSec)} budget fits ${MIN_BUDGET_EPOCHS[task]}+ epochs`;
    hyper.epochs = plan.epochs;
    budgetEpochs = true;
    epochsWhy =
      `${fmtSec(r.budgetSec)} budget: ≈ ${plan.epochSec.toFixed(1)} s per epoch (estimate: ${planSplits.train} train + ${planSplits.val} val ${unit} at ${dims.width}×${dims.height}) ` +
      `into ${Math.round(plan.trainSec)} s left after start-up and export${plan.epochs === MAX_BUDGET_EPOCHS ? ` (at most ${MAX_BUDGET_EPOCHS})` : ""}; the trainer plans more or fewer from the epochs it measures, and stops when the time is spent`;
  } else {
    epochsWhy = `the trainer's default (give a time budget, --budget, to fit the epochs to it)`;
  }
  reasons.push({ key: "input", value: `${dims.width}×${dims.height}`, why: longWhy });
  reasons.push({ key: "channels", value: String(channels), why: channelsWhy });
  if (tile.reason) reasons.push(tile.reason);
  reasons.push({ key: "epochs", value: String(hyper.epochs ?? TRAINER_EPOCHS), why: epochsWhy });

  // ---- augmentations
  const given = r.hyper.augment ?? {};
  const aug: Record<(typeof AUGMENT_KEYS)[number], boolean> = {
    hflip: true,
    vflip: gray,
    rotate: true,
    brightnessContrast: true,
    noise: true,
    crop: true,
  };
  const byHand = AUGMENT_KEYS.filter((k) => given[k] !== undefined);
  for (const k of byHand) aug[k] = given[k] as boolean;
  hyper.augment = aug satisfies Partial<TrainerAugment>;
  const on = AUGMENT_KEYS.filter((k) => aug[k]);
  const whyAug = [
    "mirroring, small rotations, brightness/contrast, noise and crops change no defect's class or extent (boxes and masks follow the transform)",
    gray
      ? "vertical flips too: grayscale frames are surfaces seen by inspection cameras, with no up or down"
      : "no vertical flips: colour frames may show scenes with an up and down (people, gravity); turn on with --augment vflip for surfaces",
  ];
  if (byHand.length)
    whyAug.push(`set by ${r.hyperBy.augment ?? "the run"}: ${byHand.map((k) => `${aug[k] ? "" : "-"}${k}`).join(",")}`);
  reasons.push({ key: "augment", value: on.join(", ") || "none", why: whyAug.join("; ") });

  // ---- class balancing
  if (hyper.balanceClasses !== undefined) {
    reasons.push({
      key: "balanceClasses",
      value: String(hyper.balanceClasses),
      why: `set by ${r.hyperBy.balanceClasses ?? "the run"}`,
    });
  } else if (task === "anomaly") {
    hyper.balanceClasses = false;
    reasons.push({
      key: "balanceClasses",
      value: "false",
      why: "anomaly models train on OK images with synthesized defects: there are no classes to balance",
    });
  } else {
    const { balance, why } = chooseBalance(facts.counts);
    hyper.balanceClasses = balance;
    reasons.push({ key: "balanceClasses", value: String(balance), why });
  }
  return { input: { ...dims, channels }, hyper, reasons, budgetEpochs, tiling: tile.tiling };
}

/** The long side from the images and, for detection and segmentation, the size of their objects. */
function chooseLong(task: RunParams["task"], f: SnapshotFacts): { long: number; why: string } {
  // upscaling past the images adds pixels, not detail
  const imageCap = Math.max(32, Math.ceil(f.longSide / 16) * 16);
  const ratio = `median aspect ${f.ratio.toFixed(2)}`;
  if (task === "classification") {
    const want = Math.min(MAX_LONG.classification, Math.max(BASE_LONG.classification, f.longSide / 2));
    const long = Math.min(want, imageCap);
    return {
      long,
      why: `images ${f.longSide} px on the long side (${ratio}): half of it, between ${BASE_LONG.classification} and ${MAX_LONG.classification} px, keeps defects of a few px visible to a whole-frame classifier${long < want ? " (not above the images' own size)" : ""}`,
    };
  }
  const base = BASE_LONG[task];
  const max = MAX_LONG[task];
  const minPx = MIN_OBJECT_PX[task];
  const small = f.objects.smallShare;
  if (small === null || small <= 0) {
    const long = Math.min(base, imageCap);
    return { long, why: `no labelled objects to size: the ${task} default ${base} px (${ratio})` };
  }
  const needed = minPx / small;
  const long = Math.min(Math.max(base, needed), max, imageCap);
  const atInput = small * round16(long);
  const what = task === "detection" ? "short side" : "thickness";
  let why = `the small objects (10th percentile ${what} of ${f.objects.measured} measured) are ${(small * 100).toFixed(1)} % of the long side (≈ ${(small * f.longSide).toFixed(0)} px on ${f.longSide} px images, ${ratio}); at ${round16(long)} px they keep ≈ ${atInput.toFixed(1)} px`;
  if (needed > max && max <= imageCap) why += `, short of ${minPx} px: capped at ${max} px for CPU training`;
  else if (needed <= base) why += ` (≥ ${minPx} px already at the ${task} default ${base} px)`;
  else if (long >= imageCap && needed > imageCap) why += ` (not above the images' own size)`;
  return { long, why };
}

function chooseBalance(counts: Record<string, number>): { balance: boolean; why: string } {
  const present = Object.entries(counts).filter(([, n]) => n > 0);
  const list = Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  if (present.length < 2) {
    return { balance: false, why: `training images: ${list}; nothing to balance (one group only)` };
  }
  const max = Math.max(...present.map(([, n]) => n));
  const min = Math.min(...present.map(([, n]) => n));
  const ratio = max / min;
  return ratio >= IMBALANCE_RATIO
    ? {
        balance: true,
        why: `training images: ${list}; largest / smallest ${ratio.toFixed(1)} ≥ ${IMBALANCE_RATIO}: sampled inversely to their frequency`,
      }
    : {
        balance: false,
        why: `training images: ${list}; largest / smallest ${ratio.toFixed(1)} < ${IMBALANCE_RATIO}: sampled as they come (balancing would only repeat images)`,
      };
}

/** 1200 → "20m", 90 → "90s", 7200 → "2h" */
export function fmtSec(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}
