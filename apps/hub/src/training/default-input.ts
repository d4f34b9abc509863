import type { RunParams, SnapshotManifest } from "@kensa/contracts";

/** px of the long side when neither the run nor the project names an input size */
const LONG_SIDE: Record<RunParams["task"], number> = { classification: 128, segmentation: 160, detection: 160 };

/**
 * A model input for a snapshot: the median image's aspect ratio, the long side per task,
 * both sides rounded to multiples of 16 (the U-Net halves three times, the detector's
 * grid is stride 4), at least 32.
 */
export function defaultInput(task: RunParams["task"], manifest: SnapshotManifest): RunParams["input"] {
  const ratios = manifest.items.map((i) => i.image.width / i.image.height).sort((a, b) => a - b);
  const ratio = ratios[Math.floor(ratios.length / 2)] ?? 1;
  const long = LONG_SIDE[task];
  const round = (v: number) => Math.max(32, Math.round(v / 16) * 16);
  return ratio >= 1
    ? { width: round(long), height: round(long / ratio), channels: 3 }
    : { width: round(long * ratio), height: round(long), channels: 3 };
}
