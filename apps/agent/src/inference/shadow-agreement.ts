import {
  type Box,
  headlineOf,
  type InferenceResult,
  NO_LABEL,
  OTHER_LABEL,
  SHADOW_AGREEMENT_LIMITS,
  type ShadowAgreement,
} from "@kensa/contracts";

/** The two models compared: the bundle (champion) and the shadow (challenger). */
export interface AgreementPair {
  bundle: { sha256: string; modelVersionId: string };
  shadow: { sha256: string; modelVersionId: string };
}

/** Bins of the score-delta histogram: p95 to 1/1000, in fixed memory however many frames. */
const DELTA_BINS = 1000;

/**
 * Counts how often a shadow model agrees with the bundle on the same frames: the same verdict
 * and the same headline label (what `disagree` in capture/capturer.ts captures), per champion
 * label, the score delta of the bundle's headline (mean, p95 from a histogram) and, for boxes and regions, the
 * mean IoU of a greedy per-label match. Counters belong to one pair of bundles and restart when
 * either changes. Memory is bounded: labels past SHADOW_AGREEMENT_LIMITS.labels are folded into
 * OTHER_LABEL, and the deltas go into a fixed histogram.
 */
export class ShadowAgreementCounter {
  readonly #maxLabels: number;
  readonly #now: () => Date;
  #pair: AgreementPair | null = null;
  #since = new Date(0);
  #frames = 0;
  #agree = 0;
  #captures = 0;
  #byLabel = new Map<string, { frames: number; agree: number }>();
  #deltaSum = 0;
  #deltas = new Uint32Array(DELTA_BINS + 1);
  #iouSum = 0;
  #iouN = 0;
  /** bumped on every change, so a reporter knows whether there is anything new to say */
  #version = 0;

  constructor(opts: { maxLabels?: number; now?: () => Date } = {}) {
    this.#maxLabels = Math.min(opts.maxLabels ?? SHADOW_AGREEMENT_LIMITS.labels, SHADOW_AGREEMENT_LIMITS.labels);
    this.#now = opts.now ?? (() => new Date());
  }

  /** Changes with every frame counted and every reset. */
  get version(): number {
    return this.#version;
  }

  /** Counts one frame both models inferred; a frame of another pair than the last restarts the counters. */
  record(pair: AgreementPair, bundle: InferenceResult, shadow: InferenceResult, captured = false): void {
    if (!this.#samePair(pair)) this.#reset(pair);
    const a = headlineOf(bundle);
    const b = headlineOf(shadow);
    const agrees = bundle.finding === shadow.finding && a?.label === b?.label;
    this.#frames++;
    if (agrees) this.#agree++;
    if (captured) this.#captures++;
    const counts = this.#labelCounts(a?.label ?? NO_LABEL);
    counts.frames++;
    if (agrees) counts.agree++;
    // the shadow's score for what the bundle headlines (0 when it has none of it): comparing
    // the two headline scores would call "ok 0.99" and "defect 0.99" the same
    const delta = a ? Math.abs(clamp01(a.score) - clamp01(scoreFor(shadow, a.label))) : clamp01(b?.score ?? 0);
    this.#deltaSum += delta;
    this.#deltas[Math.round(delta * DELTA_BINS)]! += 1;
    const iou = frameIou(bundle, shadow);
    if (iou !== null) {
      this.#iouSum += iou;
      this.#iouN++;
    }
    this.#version++;
  }

  /** Forgets everything (the pair is dropped too). */
  reset(): void {
    this.#reset(null);
  }

  /** The figures as reported to the hub, or undefined before the first frame. */
  report(): ShadowAgreement | undefined {
    const pair = this.#pair;
    if (!pair || this.#frames === 0) return undefined;
    return {
      bundleModelVersionId: pair.bundle.modelVersionId,
      bundleSha256: pair.bundle.sha256,
      shadowModelVersionId: pair.shadow.modelVersionId,
      shadowSha256: pair.shadow.sha256,
      since: this.#since.toISOString(),
      frames: this.#frames,
      agree: this.#agree,
      byLabel: Object.fromEntries([...this.#byLabel].map(([k, v]) => [k, { ...v }])),
      scoreDelta: { mean: round(this.#deltaSum / this.#frames), p95: this.#p95() },
      ...(this.#iouN > 0 ? { iou: { mean: round(this.#iouSum / this.#iouN), n: this.#iouN } } : {}),
      captures: this.#captures,
    };
  }

  #samePair(p: AgreementPair): boolean {
    const q = this.#pair;
    return (
      q !== null &&
      q.bundle.sha256 === p.bundle.sha256 &&
      q.shadow.sha256 === p.shadow.sha256 &&
      q.bundle.modelVersionId === p.bundle.modelVersionId &&
      q.shadow.modelVersionId === p.shadow.modelVersionId
    );
  }

  #reset(pair: AgreementPair | null): void {
    this.#pair = pair ? { bundle: { ...pair.bundle }, shadow: { ...pair.shadow } } : null;
    this.#since = this.#now();
    this.#frames = 0;
    this.#agree = 0;
    this.#captures = 0;
    this.#byLabel = new Map();
    this.#deltaSum = 0;
    this.#deltas = new Uint32Array(DELTA_BINS + 1);
    this.#iouSum = 0;
    this.#iouN = 0;
    this.#version++;
  }

  #labelCounts(label: string): { frames: number; agree: number } {
    let key = label.length > SHADOW_AGREEMENT_LIMITS.labelChars ? OTHER_LABEL : label;
    let counts = this.#byLabel.get(key);
    if (counts) return counts;
    // the last slot is kept for the fold, so the report never holds more than maxLabels keys
    if (key !== OTHER_LABEL && this.#byLabel.size >= this.#maxLabels - 1) key = OTHER_LABEL;
    counts = this.#byLabel.get(key) ?? { frames: 0, agree: 0 };
    this.#byLabel.set(key, counts);
    return counts;
  }

  /** the smallest delta at or below which 95% of the frames fall, to the histogram's 1/1000 */
  #p95(): number {
    const want = Math.ceil(this.#frames * 0.95);
    let seen = 0;
    for (let i = 0; i <= DELTA_BINS; i++) {
      seen += this.#deltas[i]!;
      if (seen >= want) return i / DELTA_BINS;
    }
    return 1;
  }
}

/**
 * The IoU of one frame's boxes (detections; regions' boxes for segmentation and anomaly, an
 * approximation of mask IoU that needs no mask): boxes are matched greedily per label, best
 * overlap first, and the matched IoUs are summed over the larger of the two counts, so a box one
 * model has and the other lacks counts 0. Null when neither model has a box, or for classification.
 */
export function frameIou(a: InferenceResult, b: InferenceResult): number | null {
  const boxesA = boxesOf(a);
  const boxesB = boxesOf(b);
  if (!boxesA || !boxesB) return null;
  const total = Math.max(boxesA.length, boxesB.length);
  if (total === 0) return null;
  const pairs: Array<{ i: number; j: number; iou: number }> = [];
  for (const [i, x] of boxesA.entries())
    for (const [j, y] of boxesB.entries()) {
      const iou = x.label === y.label ? boxIou(x.box, y.box) : 0;
      if (iou > 0) pairs.push({ i, j, iou });
    }
  pairs.sort((p, q) => q.iou - p.iou);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  let sum = 0;
  for (const p of pairs) {
    if (usedA.has(p.i) || usedB.has(p.j)) continue;
    usedA.add(p.i);
    usedB.add(p.j);
    sum += p.iou;
  }
  return sum / total;
}

/** The result's score for `label`: its class score, or its best box or region of that label; 0 without one. */
export function scoreFor(r: InferenceResult, label: string): number {
  switch (r.task) {
    case "classification":
      return r.scores[label] ?? (r.label === label ? r.score : 0);
    case "anomaly":
      return r.label === label ? r.score : 0;
    case "detection":
    case "segmentation": {
      let best = 0;
      for (const it of r.task === "detection" ? r.detections : r.regions)
        if (it.label === label && it.score > best) best = it.score;
      return best;
    }
  }
}

function boxesOf(r: InferenceResult): Array<{ label: string; box: Box }> | null {
  switch (r.task) {
    case "classification":
      return null;
    case "detection":
      return r.detections;
    case "segmentation":
    case "anomaly":
      return r.regions;
  }
}

/** Intersection over union of two [x, y, width, height] boxes; 0 when either is empty. */
export function boxIou(a: Box, b: Box): number {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** 4 decimals: enough for a rate, and a report that does not change with float noise */
function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
