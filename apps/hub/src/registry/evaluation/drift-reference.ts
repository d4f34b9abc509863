import {
  DRIFT_BINS,
  driftBin,
  type InferenceResult,
  type InputStats,
  inputStatsOf,
  type ModelManifest,
} from "@kensa/contracts";

/**
 * The drift reference of an evaluation: histograms (DRIFT_BINS fixed bins on 0…1) of the input
 * statistics and of the headline score over the scored test samples, computed by the functions
 * agents use on their frames, on the same preprocessed tensor. Stored inside the evaluation's
 * metrics JSON under `drift` (like `outcomes`, the API does not return it); drift/ compares the
 * field with it. `score` is null when the evaluator cannot tell the headline a device would
 * report (segmentation scores pixels, not the regions agents report).
 */
export interface StoredDriftReference {
  samples: number;
  luma: number[];
  contrast: number[];
  score: { all: number[]; byLabel: Record<string, number[]> } | null;
}

/** Collects one evaluation's reference, sample by sample. */
export class DriftReferenceRecorder {
  readonly #manifest: ModelManifest;
  readonly #luma = bins();
  readonly #contrast = bins();
  readonly #score = bins();
  readonly #byLabel = new Map<string, number[]>();
  #samples = 0;
  #scores = true;

  constructor(manifest: ModelManifest) {
    this.#manifest = manifest;
  }

  /** The input statistics of a preprocessed tensor, as the agent takes them. */
  stats(tensor: Float32Array): InputStats {
    return inputStatsOf(tensor, this.#manifest.input, this.#manifest.preprocessing);
  }

  /**
   * One scored sample: its input statistics and its result (the headline a device would report;
   * undefined when the evaluator has none).
   */
  add(input: InputStats, result: InferenceResult | undefined): void {
    this.#samples++;
    this.#luma[driftBin(input.luma)]!++;
    this.#contrast[driftBin(input.contrast)]!++;
    if (!result) {
      this.#scores = false;
      return;
    }
    const head = deviceHeadline(result, this.#manifest);
    if (!head) return;
    this.#score[driftBin(head.score)]!++;
    const h = this.#byLabel.get(head.label) ?? bins();
    this.#byLabel.set(head.label, h);
    h[driftBin(head.score)]!++;
  }

  get samples(): number {
    return this.#samples;
  }

  toJSON(): StoredDriftReference {
    return {
      samples: this.#samples,
      luma: [...this.#luma],
      contrast: [...this.#contrast],
      score: this.#scores ? { all: [...this.#score], byLabel: Object.fromEntries(this.#byLabel) } : null,
    };
  }
}

/**
 * headlineOf as the device computes it: the detection evaluator keeps candidates down to a score
 * of 0.001 for AP, which a deployed model (its `minScore`) would never report.
 */
function deviceHeadline(result: InferenceResult, manifest: ModelManifest): { label: string; score: number } | null {
  switch (result.task) {
    case "classification":
    case "anomaly":
      return { label: result.label, score: result.score };
    case "detection": {
      const post = manifest.postprocessing;
      const min = post.type === "detection" ? post.minScore : 0;
      let best: { label: string; score: number } | null = null;
      for (const d of result.detections) {
        if (d.score >= min && (!best || d.score > best.score)) best = { label: d.label, score: d.score };
      }
      return best;
    }
    case "segmentation": {
      let best: { label: string; score: number } | null = null;
      for (const r of result.regions) if (!best || r.score > best.score) best = { label: r.label, score: r.score };
      return best;
    }
  }
}

/** The reference stored in an evaluation's metrics JSON, or null when it has none (evaluated before 0027). */
export function storedDriftReference(metrics: unknown): StoredDriftReference | null {
  if (!metrics || typeof metrics !== "object") return null;
  const d = (metrics as { drift?: unknown }).drift;
  if (!d || typeof d !== "object") return null;
  const r = d as Partial<StoredDriftReference>;
  const ok = (h: unknown) =>
    Array.isArray(h) && h.length === DRIFT_BINS && h.every((x) => Number.isInteger(x) && x >= 0);
  if (typeof r.samples !== "number" || !ok(r.luma) || !ok(r.contrast)) return null;
  const score =
    r.score && ok(r.score.all) && r.score.byLabel && Object.values(r.score.byLabel).every(ok) ? r.score : null;
  return { samples: r.samples, luma: r.luma!, contrast: r.contrast!, score };
}

function bins(): number[] {
  return new Array<number>(DRIFT_BINS).fill(0);
}
