import type { RunParams } from "@kensa/contracts";

/**
 * s per (image × input pixel) of one training epoch of the built-in trainer, validation
 * included, with 2 trainer threads: an estimate on the slow side. Measured on the 2-core
 * development machine by the quality bench (bench/quality.ts, real datasets, 1-min load ≈ 2,
 * start-up and export included): classification 3.1e-7 (NEU, 1539 images at 128²) and 4.0e-7
 * (magnetic tile, 1126 at 160²), segmentation 1.25e-6 (U-Net, 1126 at 160²), detection 1.8e-7
 * (NEU-DET, 1539 at 200²); taken 2–3× slower for other load on the machine. Planning too few
 * epochs costs little (the cosine schedule still completes); too many would end on the
 * trainer's time-budget stop with the learning rate still high.
 */
export const SEC_PER_IMAGE_PIXEL: Record<RunParams["task"], number> = {
  classification: 8e-7,
  segmentation: 2.5e-6,
  detection: 6e-7,
  // not measured yet: a per-pixel model like the segmentation U-Net
  anomaly: 2.5e-6,
};

/**
 * s each epoch costs whatever its size: the validation pass's set-up, copying the best weights,
 * the first batches' warm-up (measured: 45 train + 8 val images at 96×64 took 1–4 s an epoch)
 */
const EPOCH_FIXED_SEC = 1.5;
/** threads the rates above were measured with */
const MEASURED_THREADS = 2;
/** s: Python and torch start, images decoded and resized (≈ 5 ms each), test split and ONNX export */
const FIXED_SEC = 20;
const SEC_PER_IMAGE_LOAD = 0.005;
/** never more epochs than this from a budget (the trainer's early stopping ends most runs sooner) */
export const MAX_BUDGET_EPOCHS = 200;

export interface EpochPlan {
  epochs: number;
  /** s, estimated per epoch */
  epochSec: number;
  /** s of the budget left for epochs after start-up and export */
  trainSec: number;
}

/** How many epochs fit `budgetSec` for this data and input (at least 1). */
export function planEpochs(
  task: RunParams["task"],
  splits: { train: number; val: number; test: number },
  input: { width: number; height: number },
  budgetSec: number,
  threads: number | null,
): EpochPlan {
  const px = input.width * input.height;
  // fewer threads than measured: proportionally slower; more: no faster (the cores may be shared)
  const slowdown = threads !== null && threads < MEASURED_THREADS ? MEASURED_THREADS / threads : 1;
  const epochSec = ((splits.train + splits.val) * px * SEC_PER_IMAGE_PIXEL[task] + EPOCH_FIXED_SEC) * slowdown;
  const images = splits.train + splits.val + splits.test;
  const trainSec = Math.max(
    0,
    budgetSec - FIXED_SEC - images * SEC_PER_IMAGE_LOAD - splits.test * px * SEC_PER_IMAGE_PIXEL[task],
  );
  const epochs = Math.min(MAX_BUDGET_EPOCHS, Math.max(1, Math.floor(trainSec / epochSec)));
  return { epochs, epochSec, trainSec };
}
