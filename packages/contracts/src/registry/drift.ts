import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import type { InputSpec, Preprocessing } from "../manifest.js";
import { defineRoutes } from "../route.js";

/*
 * Drift: how far what a model sees in the field (its input images and its headline scores) has
 * moved from what it saw on the snapshot it was evaluated on. Both sides are histograms of the
 * same statistics, computed by the same functions (below) on the same preprocessed tensor: the
 * agent per inferred frame (`Event.input`), the hub per test sample when it evaluates a model.
 * docs/monitoring.md, "Drift", says how to read them.
 */

/** Fixed bins of every drift histogram: [0, 0.1), [0.1, 0.2), … [0.9, 1.0]. */
export const DRIFT_BINS = 10;
/**
 * Proportion given to a bin with no count on one side before PSI takes its logarithm (an empty
 * bin would make the term infinite). 1e-4 is the usual floor: a bin that holds 10 % of one side
 * and nothing of the other still adds 0.1 × ln(1000) ≈ 0.69, i.e. significant on its own.
 */
export const DRIFT_EPSILON = 1e-4;
/** PSI below this is "stable"; up to DRIFT_SIGNIFICANT "moderate"; above it "significant". */
export const DRIFT_MODERATE = 0.1;
export const DRIFT_SIGNIFICANT = 0.25;
/** Field frames a histogram needs before its PSI is given (fewer: sampling noise dominates). */
export const DRIFT_MIN_FRAMES = 50;
/** Reference samples a histogram needs before its PSI is given. */
export const DRIFT_MIN_REFERENCE = 20;
/** Default and longest window, in hours. */
export const DRIFT_DEFAULT_WINDOW_HOURS = 24;
export const DRIFT_MAX_WINDOW_HOURS = 30 * 24;
/**
 * Pixels of the model input the input statistics read at most (a grid over the image): a mean
 * and a standard deviation binned at 0.1 need no more, and 4096 cost 5x the time (measured).
 */
export const INPUT_STATS_MAX_PIXELS = 1024;

const Unit = Type.Number({ minimum: 0, maximum: 1 });

/**
 * Cheap statistics of the image a model was given, on its preprocessed input (after resize,
 * crop or letterbox) mapped back to 0…1 pixel values. `luma`: mean Rec. 601 luma
 * (0.299 R + 0.587 G + 0.114 B; the grey value for one channel). `contrast`: twice the standard
 * deviation of luma, so that it spans 0…1 (a half-black, half-white image is 1).
 */
export const InputStats = Type.Object({ luma: Unit, contrast: Unit });
export type InputStats = Static<typeof InputStats>;

/**
 * The input statistics of one preprocessed tensor (`(pixel · scale − mean[c]) / std[c]` in the
 * manifest's layout, as @kensa/vision's preprocess makes it), read on a grid of at most
 * INPUT_STATS_MAX_PIXELS pixels: whatever the input size, tens of µs per frame at most
 * (apps/agent/test/input-stats.test.ts measures it), against milliseconds of decode and inference.
 */
export function inputStatsOf(data: Float32Array, input: InputSpec, pre: Preprocessing): InputStats {
  const { width, height, channels: c } = input;
  const n = width * height;
  // per channel: tensor value → 0…1 pixel value, v·std/(scale·255) + mean/(scale·255)
  const gain: number[] = [];
  const offset: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const k = 1 / (pre.scale * 255);
    gain.push((pre.std[ch] ?? pre.std[0] ?? 1) * k);
    offset.push((pre.mean[ch] ?? pre.mean[0] ?? 0) * k);
  }
  const step = Math.max(1, Math.ceil(Math.sqrt(n / INPUT_STATS_MAX_PIXELS)));
  const first = Math.floor(step / 2);
  const cols = Math.ceil((width - first) / step);
  const rows = Math.ceil((height - first) / step);
  const count = Math.max(0, cols * rows);
  // luma of each grid pixel, summed one channel plane at a time: in NCHW a pixel's channels
  // lie a plane apart, and reading them together costs a cache miss each (measured: 3x slower)
  const luma = new Float64Array(count);
  const chStride = input.layout === "NHWC" ? 1 : n;
  const pxStride = input.layout === "NHWC" ? c : 1;
  const weights = c === 3 ? [0.299, 0.587, 0.114] : [1];
  for (let ch = 0; ch < c; ch++) {
    const g = gain[ch]!;
    const o = offset[ch]!;
    const w = weights[ch]!;
    let k = 0;
    for (let y = first; y < height; y += step) {
      let at = (y * width + first) * pxStride + ch * chStride;
      const by = step * pxStride;
      for (let x = first; x < width; x += step, at += by) {
        const v = (data[at] ?? 0) * g + o;
        luma[k] = (luma[k] ?? 0) + w * (v < 0 ? 0 : Math.min(v, 1));
        k++;
      }
    }
  }
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < count; i++) {
    const l = luma[i]!;
    sum += l;
    sumSq += l * l;
  }
  if (count === 0) return { luma: 0, contrast: 0 };
  const mean = sum / count;
  const sd = Math.sqrt(Math.max(0, sumSq / count - mean * mean));
  return { luma: clampUnit(mean), contrast: clampUnit(2 * sd) };
}

function clampUnit(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/**
 * Inner bin edges, 0.1 … 0.9. The hub bins stored values in SQL by comparing with these same
 * numbers, so a value on an edge lands in the same bin on both sides (x·10 rounds, x < 0.7 does not).
 */
export const DRIFT_EDGES: readonly number[] = Array.from({ length: DRIFT_BINS - 1 }, (_, i) => (i + 1) / DRIFT_BINS);

/** The bin of a 0…1 value: the first edge it is below (1.0 belongs to the last bin). */
export function driftBin(x: number): number {
  for (let b = 0; b < DRIFT_EDGES.length; b++) if (x < DRIFT_EDGES[b]!) return b;
  return DRIFT_BINS - 1;
}

/** A histogram of 0…1 values in DRIFT_BINS bins. */
export function driftHistogram(values: Iterable<number>): number[] {
  const h = new Array<number>(DRIFT_BINS).fill(0);
  for (const v of values) h[driftBin(v)]!++;
  return h;
}

/**
 * Population stability index of `field` against `reference` (counts per bin, same bins):
 * Σ (fᵢ − rᵢ) · ln(fᵢ / rᵢ) over the proportions, a proportion of 0 raised to DRIFT_EPSILON.
 * Null when either side is empty.
 */
export function populationStabilityIndex(
  reference: readonly number[],
  field: readonly number[],
  epsilon = DRIFT_EPSILON,
): number | null {
  if (reference.length !== field.length) throw new RangeError("histograms of different bins");
  const nr = reference.reduce((a, b) => a + b, 0);
  const nf = field.reduce((a, b) => a + b, 0);
  if (nr === 0 || nf === 0) return null;
  let psi = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = Math.max(reference[i]! / nr, epsilon);
    const f = Math.max(field[i]! / nf, epsilon);
    psi += (f - r) * Math.log(f / r);
  }
  return psi;
}

/**
 * What PSI two samples of these sizes drawn from one distribution give on average, about
 * (b − 1)(1/n_ref + 1/n_field) with b the bins either side uses: a PSI near it is noise.
 */
export function psiNoise(reference: readonly number[], field: readonly number[]): number | null {
  const nr = reference.reduce((a, b) => a + b, 0);
  const nf = field.reduce((a, b) => a + b, 0);
  if (nr === 0 || nf === 0) return null;
  const used = reference.filter((r, i) => r > 0 || (field[i] ?? 0) > 0).length;
  return Math.max(0, used - 1) * (1 / nr + 1 / nf);
}

export const DriftBand = Type.Union([Type.Literal("stable"), Type.Literal("moderate"), Type.Literal("significant")]);
export type DriftBand = Static<typeof DriftBand>;

/** The usual PSI bands: < 0.1 stable, 0.1–0.25 moderate, > 0.25 significant. */
export function driftBand(psi: number): DriftBand {
  return psi > DRIFT_SIGNIFICANT ? "significant" : psi >= DRIFT_MODERATE ? "moderate" : "stable";
}

export const DriftStatisticName = Type.Union([Type.Literal("luma"), Type.Literal("contrast"), Type.Literal("score")]);
export type DriftStatisticName = Static<typeof DriftStatisticName>;

const Histogram = Type.Array(Type.Integer({ minimum: 0 }), { minItems: DRIFT_BINS, maxItems: DRIFT_BINS });

/**
 * Why a statistic has no PSI: `no-reference` (the evaluation holds no histograms: evaluated
 * before drift references were kept, or not evaluated), `few-frames` (under DRIFT_MIN_FRAMES in
 * the window; old agents send no input statistics), `few-reference` (under DRIFT_MIN_REFERENCE).
 */
export const DriftStatus = Type.Union([
  Type.Literal("ok"),
  Type.Literal("no-reference"),
  Type.Literal("few-frames"),
  Type.Literal("few-reference"),
]);
export type DriftStatus = Static<typeof DriftStatus>;

export const DriftStatistic = Type.Object({
  statistic: DriftStatisticName,
  /** score only: the headline label the scores are of; null = every label pooled */
  label: Nullable(Type.String()),
  status: DriftStatus,
  psi: Nullable(Type.Number({ minimum: 0 })),
  band: Nullable(DriftBand),
  /** the PSI sampling noise alone would give with these counts (see psiNoise) */
  noise: Nullable(Type.Number({ minimum: 0 })),
  /** counts per bin on the evaluation snapshot; null without a reference */
  reference: Nullable(Histogram),
  /** counts per bin in the window */
  field: Histogram,
});
export type DriftStatistic = Static<typeof DriftStatistic>;

export const DriftGroup = Type.Object({
  /** null: every device of the model version */
  deviceId: Nullable(Type.String()),
  /** events of the model version in the window */
  frames: Type.Integer({ minimum: 0 }),
  /** of them, with input statistics (agents before them send none) */
  framesWithInput: Type.Integer({ minimum: 0 }),
  statistics: Type.Array(DriftStatistic),
});
export type DriftGroup = Static<typeof DriftGroup>;

/** The histograms kept with an evaluation: per statistic, over the scored test samples. */
export const DriftReference = Type.Object({
  evaluationId: Id,
  snapshotId: Type.String(),
  samples: Type.Integer({ minimum: 0 }),
});
export type DriftReference = Static<typeof DriftReference>;

export const DriftReport = Type.Object({
  modelVersionId: Id,
  projectId: Id,
  window: Type.Object({ hours: Type.Integer({ minimum: 1 }), from: Ts, to: Ts }),
  /** the evaluation the field is compared with; null when none holds drift histograms */
  reference: Nullable(DriftReference),
  /** the whole fleet first, then each device, most frames first */
  groups: Type.Array(DriftGroup),
});
export type DriftReport = Static<typeof DriftReport>;

export const DriftQuery = Type.Object({
  /** "24h", "7d": events stored in this window up to now (default 24h, at most 30d) */
  window: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,3}[hd]$" })),
});
export type DriftQuery = Static<typeof DriftQuery>;

/** Hours of a window string ("24h", "7d"), or null when it is not one or exceeds the maximum. */
export function parseDriftWindow(window: string | undefined): number | null {
  if (window === undefined) return DRIFT_DEFAULT_WINDOW_HOURS;
  const m = /^([1-9][0-9]{0,3})([hd])$/.exec(window);
  if (!m) return null;
  const hours = Number(m[1]) * (m[2] === "d" ? 24 : 1);
  return hours <= DRIFT_MAX_WINDOW_HOURS ? hours : null;
}

/**
 * A project's drift threshold (training settings `triggers.drift`): when the champion's PSI of
 * `statistic` (every device pooled; `any`: the largest of luma, contrast and pooled score) over
 * the last `windowHours` exceeds `psi`, the hub records a "drift" audit entry, alerts, and
 * starts one retraining per champion and window.
 */
export const DriftTrigger = Type.Object(
  {
    psi: Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
    // optional with defaults: a settings patch may leave them out, the stored settings have them
    statistic: Type.Optional(Type.Union([DriftStatisticName, Type.Literal("any")], { default: "any" })),
    windowHours: Type.Optional(
      Type.Integer({ minimum: 1, maximum: DRIFT_MAX_WINDOW_HOURS, default: DRIFT_DEFAULT_WINDOW_HOURS }),
    ),
  },
  { additionalProperties: false },
);
export type DriftTrigger = Static<typeof DriftTrigger>;

export const driftRoutes = defineRoutes({
  report: {
    method: "GET",
    path: "/api/v1/models/:id/drift",
    summary: "Drift of a model version in the field: input and score histograms against its evaluation snapshot, PSI",
    permission: "models:read",
    params: Type.Object({ id: Type.String() }),
    query: DriftQuery,
    reply: DriftReport,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_VALIDATION"],
  },
});
