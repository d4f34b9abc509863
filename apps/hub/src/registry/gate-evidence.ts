import type { GateCriteria, GateEvidence, MetricInterval } from "@kensa/contracts";
import { type Scorer, scorerFor } from "./evaluation/outcome-metrics.js";
import { type SampleOutcomes, subsetOutcomes } from "./evaluation/sample-outcomes.js";
import {
  mcnemarExact,
  normalQuantile,
  quantileSorted,
  resampleCounts,
  seededRandom,
  standardDeviation,
  wilsonInterval,
} from "./gate-stats.js";

/** Gate criteria with the evidence settings filled in (criteria stored before them lack them). */
export type ResolvedGateCriteria = GateCriteria &
  Required<
    Pick<
      GateCriteria,
      "requireEvidence" | "confidence" | "minTestSamples" | "notSignificant" | "bootstrapResamples" | "bootstrapSeed"
    >
  >;

export function resolveCriteria(c: GateCriteria): ResolvedGateCriteria {
  return {
    ...c,
    requireEvidence: c.requireEvidence ?? true,
    confidence: c.confidence ?? 0.95,
    minTestSamples: c.minTestSamples ?? 30,
    notSignificant: c.notSignificant ?? "reject",
    bootstrapResamples: c.bootstrapResamples ?? 2000,
    bootstrapSeed: c.bootstrapSeed ?? 1,
  };
}

/** the power the sample-size note is computed for */
const POWER = 0.8;

export interface EvidenceInput {
  criteria: ResolvedGateCriteria;
  challenger: SampleOutcomes | null;
  /** null: the project has no champion, or its evaluation kept no outcomes (see hasChampion) */
  champion: SampleOutcomes | null;
  hasChampion: boolean;
}

/**
 * The primary metric of the challenger (and the champion) with intervals, and over a champion
 * the paired bootstrap of the difference on the samples both were scored on, McNemar's exact
 * test for accuracy, and how many samples would show the observed difference. `unavailable`
 * says why there is no evidence (outcomes not kept, a metric that cannot be recomputed per sample).
 */
export function gateEvidence(input: EvidenceInput): { evidence: GateEvidence | null; unavailable: string | null } {
  const c = input.criteria;
  const metric = c.primaryMetric;
  const none = (why: string) => ({ evidence: null, unavailable: why });
  let a = input.challenger;
  let b = input.champion;
  if (!a) return none("the challenger's evaluation kept no per-sample outcomes");
  if (input.hasChampion && !b) return none("the champion's evaluation kept no per-sample outcomes");
  let note: string | undefined;
  if (b) {
    if (a.kind !== b.kind) return none(`the models solve different tasks (${a.kind}, ${b.kind})`);
    const at = new Map(b.sampleIds.map((id, i) => [id, i]));
    const ia: number[] = [];
    const ib: number[] = [];
    a.sampleIds.forEach((id, i) => {
      const j = at.get(id);
      if (j !== undefined) {
        ia.push(i);
        ib.push(j);
      }
    });
    if (ia.length < a.sampleIds.length || ib.length < b.sampleIds.length) {
      note = `paired on the ${ia.length} samples both models were scored on (challenger ${a.sampleIds.length}, champion ${b.sampleIds.length})`;
    }
    a = subsetOutcomes(a, ia);
    b = subsetOutcomes(b, ib);
  }
  const sa = scorerFor(a, metric);
  const sb = b ? scorerFor(b, metric) : null;
  if (!sa || (b && !sb)) return none(`${metric} of a ${a.kind} model cannot be recomputed per sample`);
  const n = sa.n;
  if (n === 0) return none("no test sample was scored for both models");
  const ones = new Float64Array(n).fill(1);
  const va = sa.score(ones);
  const vb = sb ? sb.score(ones) : null;
  if (va === null || (sb && vb === null)) return none(`${metric} is undefined on these samples (one class only?)`);

  const random = seededRandom(c.bootstrapSeed);
  const w = new Float64Array(n);
  const drawsA: number[] = [];
  const drawsB: number[] = [];
  const diffs: number[] = [];
  for (let r = 0; r < c.bootstrapResamples; r++) {
    resampleCounts(n, random, w);
    const x = sa.score(w);
    const y = sb ? sb.score(w) : 0;
    // a resample where the metric is undefined (e.g. no defect drawn, for AUROC) says nothing
    if (x === null || y === null) continue;
    drawsA.push(x);
    if (sb) {
      drawsB.push(y);
      diffs.push(x - y);
    }
  }
  // e.g. ROC-AUC on a split with one or two defects: most draws hold no defect at all
  if (drawsA.length < c.bootstrapResamples / 2) {
    return none(`${metric} is undefined on most bootstrap resamples (too few samples of one class)`);
  }
  const lowQ = (1 - c.confidence) / 2;
  const highQ = 1 - lowQ;
  const interval = (s: Scorer, value: number, draws: number[]): MetricInterval => {
    if (s.correct) {
      const k = s.correct.reduce((acc, v) => acc + v, 0);
      return { value, ...wilsonInterval(k, n, c.confidence), method: "wilson" };
    }
    const sorted = draws.sort((x, y) => x - y);
    return { value, low: quantileSorted(sorted, lowQ), high: quantileSorted(sorted, highQ), method: "bootstrap" };
  };
  const evidence: GateEvidence = {
    metric,
    confidence: c.confidence,
    samples: n,
    challenger: interval(sa, va, drawsA),
    champion: sb && vb !== null ? interval(sb, vb, drawsB) : null,
    difference: null,
    identical: false,
    test: null,
    power: null,
    ...(note ? { note } : {}),
  };
  if (!sb || vb === null) return { evidence, unavailable: null };

  const d = va - vb;
  const se = standardDeviation(diffs);
  const sorted = [...diffs].sort((x, y) => x - y);
  evidence.difference = {
    value: d,
    low: quantileSorted(sorted, lowQ),
    high: quantileSorted(sorted, highQ),
    se,
    method: "paired_bootstrap",
    resamples: c.bootstrapResamples,
    seed: c.bootstrapSeed,
  };
  evidence.identical = Math.abs(d) < 1e-12 && diffs.every((x) => Math.abs(x) < 1e-12);
  let discordant: { only: number; other: number } | null = null;
  if (sa.correct && sb.correct) {
    let only = 0;
    let other = 0;
    for (let i = 0; i < n; i++) {
      if (sa.correct[i] && !sb.correct[i]) only++;
      else if (!sa.correct[i] && sb.correct[i]) other++;
    }
    discordant = { only, other };
    evidence.identical = only === 0 && other === 0;
    evidence.test = {
      name: "mcnemar_exact",
      pValue: mcnemarExact(only, other),
      challengerOnly: only,
      championOnly: other,
    };
  } else {
    // one-sided: how often a resample shows no more than the minimum improvement
    const atOrBelow = diffs.filter((x) => x <= c.minImprovement + 1e-12).length;
    evidence.test = { name: "paired_bootstrap", pValue: (atOrBelow + 1) / (diffs.length + 1) };
  }
  evidence.power = powerNote(c, n, d, se, evidence.identical, discordant);
  return { evidence, unavailable: null };
}

/**
 * How many paired samples would show the observed difference above the minimum improvement with
 * 80 % power at the gate's confidence: Connor's sample size for McNemar's test from the observed
 * disagreement rate (accuracy), else the bootstrap standard error scaled by 1/√n.
 */
function powerNote(
  c: ResolvedGateCriteria,
  n: number,
  d: number,
  se: number,
  identical: boolean,
  discordant: { only: number; other: number } | null,
): NonNullable<GateEvidence["power"]> {
  const target = c.minImprovement;
  const f = (v: number) => `${v >= 0 ? "+" : ""}${Number(v.toFixed(4))}`;
  if (identical) {
    return {
      neededSamples: null,
      note: `both models give the same result on all ${n} samples: more samples of this kind would not show a difference`,
    };
  }
  if (d <= target + 1e-12) {
    return {
      neededSamples: null,
      note: `the observed difference (${f(d)}) is not above the minimum improvement (${f(target)}): more samples would not show an improvement the challenger does not make`,
    };
  }
  const zA = normalQuantile(0.5 + c.confidence / 2);
  const zB = normalQuantile(POWER);
  let needed: number | null = null;
  if (discordant) {
    const pd = (discordant.only + discordant.other) / n;
    needed = Math.ceil(((zA * Math.sqrt(pd) + zB * Math.sqrt(Math.max(0, pd - d * d))) / (d - target)) ** 2);
  } else if (se > 0) {
    needed = Math.ceil(n * (((zA + zB) * se) / (d - target)) ** 2);
  }
  if (needed === null)
    return { neededSamples: null, note: "the difference has no spread to estimate a sample size from" };
  const pct = Math.round(c.confidence * 1000) / 10;
  const note =
    needed > n
      ? `about ${needed} paired test samples (${needed - n} more than the ${n} here) would show a difference of ${f(d)} ` +
        `with ${POWER * 100} % power at ${pct} % confidence`
      : `about ${needed} samples would do by a normal approximation: the ${n} here are enough for a difference of this size, which is at the edge of the noise`;
  return { neededSamples: needed, note };
}
