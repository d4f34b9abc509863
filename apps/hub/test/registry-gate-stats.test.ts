import { type GateCriteria, GateCriteria as GateCriteriaSchema, type MetricSummary, parseWith } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { decideGate } from "../src/registry/decide-gate.js";
import { classificationMetrics } from "../src/registry/evaluation/metrics/classification-metrics.js";
import { type DetectionImage, detectionMetrics } from "../src/registry/evaluation/metrics/detection-metrics.js";
import { detectionOutcomes } from "../src/registry/evaluation/metrics/detection-outcomes.js";
import { SegmentationAccumulator } from "../src/registry/evaluation/metrics/segmentation-metrics.js";
import { scorerFor } from "../src/registry/evaluation/outcome-metrics.js";
import type { ClassificationOutcomes, SegmentationOutcomes } from "../src/registry/evaluation/sample-outcomes.js";
import { gateEvidence, resolveCriteria } from "../src/registry/gate-evidence.js";
import {
  mcnemarExact,
  normalQuantile,
  quantileSorted,
  seededRandom,
  wilsonInterval,
} from "../src/registry/gate-stats.js";

const criteria = (over: Partial<GateCriteria> = {}) =>
  resolveCriteria(parseWith(GateCriteriaSchema, { primaryMetric: "accuracy", ...over }));

/** two-class outcomes where sample i is right or wrong as told (truth alternates ok/defect) */
function outcomes(correct: boolean[]): ClassificationOutcomes {
  const truth = correct.map((_, i) => i % 2);
  const predicted = correct.map((c, i) => (c ? truth[i]! : 1 - truth[i]!));
  return {
    kind: "classification",
    sampleIds: correct.map((_, i) => `smp_${i}`),
    labels: ["ok", "defect"],
    ok: [true, false],
    truth,
    predicted,
    score: predicted.map((p, i) => (p ? 0.6 + i / 1000 : 0.4 - i / 1000)),
  };
}

const summary = (accuracy: number): MetricSummary => ({
  values: { accuracy },
  perClass: {},
  latency: { p50: 1, p95: 2, mean: 1, samples: 40 },
});

/** the gate on two models given their per-sample correctness */
function gate(mine: boolean[], theirs: boolean[], over: Partial<GateCriteria> = {}) {
  const c = criteria(over);
  const ev = gateEvidence({ criteria: c, challenger: outcomes(mine), champion: outcomes(theirs), hasChampion: true });
  const acc = (v: boolean[]) => v.filter(Boolean).length / v.length;
  const o = decideGate({
    criteria: c,
    challenger: summary(acc(mine)),
    champion: summary(acc(theirs)),
    evidence: ev.evidence,
    evidenceUnavailable: ev.unavailable,
  });
  return { ...o, evidence: ev.evidence! };
}

const n = (count: number, wrong: number[] = []) => Array.from({ length: count }, (_, i) => !wrong.includes(i));

describe("gate statistics, against values worked out by hand", () => {
  it("normal quantile, Wilson interval, McNemar's exact test, percentiles", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 6);
    // 39 of 40: centre (p + z²/2n)/(1 + z²/n) = 0.93338, half-width 0.06219
    const w = wilsonInterval(39, 40, 0.95);
    expect(w.low).toBeCloseTo(0.8712, 4);
    expect(w.high).toBeCloseTo(0.9956, 4);
    expect(wilsonInterval(0, 10, 0.95).low).toBe(0);
    // b = 6, c = 0: 2 · 2⁻⁶; b = 10, c = 2: 2 · (1 + 12 + 66) / 4096
    expect(mcnemarExact(6, 0)).toBeCloseTo(2 / 64, 12);
    expect(mcnemarExact(10, 2)).toBeCloseTo((2 * 79) / 4096, 12);
    expect(mcnemarExact(1, 0)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(1500, 1500)).toBeCloseTo(1, 6);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 12);
  });

  it("the seeded generator repeats itself and stays in [0, 1)", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(seededRandom(8)()).not.toBe(xs[0]);
  });
});

describe("metrics recomputed from per-sample outcomes equal the evaluation's", () => {
  it("classification: accuracy, macro F1 and AUROC", () => {
    const pairs: Array<[number, number, number]> = [
      [0, 0, 0.1],
      [0, 0, 0.2],
      [0, 0, 0.3],
      [0, 1, 0.6],
      [1, 1, 0.9],
      [1, 1, 0.8],
      [1, 2, 0.4],
      [2, 2, 0.7],
      [2, 0, 0.2],
    ];
    const labels = ["ok", "scratch", "dent"];
    const m = classificationMetrics(
      pairs.map(([truth, predicted, defectScore]) => ({ truth, predicted, defectScore })),
      labels,
      ["ok"],
    );
    const o: ClassificationOutcomes = {
      kind: "classification",
      sampleIds: pairs.map((_, i) => `s${i}`),
      labels,
      ok: [true, false, false],
      truth: pairs.map((p) => p[0]),
      predicted: pairs.map((p) => p[1]),
      score: pairs.map((p) => p[2]),
    };
    const ones = new Array(pairs.length).fill(1);
    expect(scorerFor(o, "accuracy")!.score(ones)).toBeCloseTo(m.accuracy, 12);
    expect(scorerFor(o, "f1_macro")!.score(ones)).toBeCloseTo(m.f1Macro, 12);
    expect(scorerFor(o, "auroc")!.score(ones)).toBeCloseTo(m.auroc!, 12);
    // a weight of 2 is the sample drawn twice
    const twice = [...pairs, pairs[3]!];
    const m2 = classificationMetrics(
      twice.map(([truth, predicted, defectScore]) => ({ truth, predicted, defectScore })),
      labels,
      ["ok"],
    );
    const w = ones.map((_, i) => (i === 3 ? 2 : 1));
    expect(scorerFor(o, "f1_macro")!.score(w)).toBeCloseTo(m2.f1Macro, 12);
    expect(scorerFor(o, "auroc")!.score(w)).toBeCloseTo(m2.auroc!, 12);
    expect(scorerFor(o, "map50")).toBeNull();
  });

  it("detection: mAP@0.5 from matched and unmatched boxes, with images drawn twice", () => {
    // distinct scores: among tied scores the rank (and so AP) depends on an arbitrary order
    const random = seededRandom(3);
    const images: DetectionImage[] = Array.from({ length: 12 }, () => {
      const truths = Array.from({ length: Math.floor(random() * 3) }, () => ({
        label: random() < 0.5 ? "scratch" : "dent",
        box: [random() * 50, random() * 50, 10 + random() * 10, 10 + random() * 10] as [number, number, number, number],
      }));
      const detections = [
        ...truths.map((t) => ({
          label: random() < 0.8 ? t.label : "dent",
          score: random(),
          box: t.box.map((v) => v + random() * 4) as [number, number, number, number],
        })),
        {
          label: "scratch",
          score: random(),
          box: [60, 60, 10, 10] as [number, number, number, number],
        },
      ];
      return { truths, detections };
    });
    const labels = ["scratch", "dent"];
    const o = detectionOutcomes(
      images.map((_, i) => `s${i}`),
      images,
      labels,
    );
    const s = scorerFor(o, "map50")!;
    expect(s.score(new Array(12).fill(1))).toBeCloseTo(detectionMetrics(images, labels).map50, 12);
    const w = [2, 0, 1, 3, 0, 1, 1, 2, 0, 1, 1, 1];
    const drawn = images.flatMap((im, i) => Array.from({ length: w[i]! }, () => im));
    expect(s.score(w)).toBeCloseTo(detectionMetrics(drawn, labels).map50, 12);
  });

  it("segmentation: mIoU from per-image confusion cells", () => {
    const truth = [
      [0, 1, 1, 0],
      [2, 2, 0, 0],
      [0, 0, 0, 0],
    ];
    const pred = [
      [0, 1, 0, 0],
      [2, 1, 0, 2],
      [1, 0, 0, 0],
    ];
    const cells = truth.map((t, i) => {
      const c = new Map<number, number>();
      for (const [j, v] of t.entries()) c.set(v * 3 + pred[i]![j]!, (c.get(v * 3 + pred[i]![j]!) ?? 0) + 1);
      return [...c].flat();
    });
    const o: SegmentationOutcomes = {
      kind: "segmentation",
      sampleIds: ["a", "b", "c"],
      k: 3,
      defect: [false, true, true],
      cells,
    };
    const acc = new SegmentationAccumulator(["ok", "scratch", "dent"], ["ok"]);
    for (const [i, t] of truth.entries()) acc.add(t, pred[i]!);
    expect(scorerFor(o, "miou")!.score([1, 1, 1])).toBeCloseTo(acc.result().miou, 12);
  });
});

describe("the gate on evidence", () => {
  it("refuses two identical models as a tie", () => {
    const o = gate(n(40, [7]), n(40, [7]));
    expect(o).toMatchObject({ decision: "rejected", reasonCode: "tie" });
    expect(o.reason).toMatch(
      /^refused: no significant improvement — a tie: identical results on all 40 paired samples/,
    );
    expect(o.evidence).toMatchObject({ identical: true, difference: { value: 0, low: 0, high: 0 } });
    expect(o.evidence.power).toMatchObject({ neededSamples: null });
    expect(o.evidence.power!.note).toMatch(/same result on all 40 samples/);
  });

  it("refuses a challenger better on 1 of 40 samples, and says 312 samples would show it", () => {
    const o = gate(n(40), n(40, [7]));
    expect(o).toMatchObject({ decision: "rejected", reasonCode: "not_significant" });
    expect(o.evidence.test).toMatchObject({ name: "mcnemar_exact", pValue: 1, challengerOnly: 1, championOnly: 0 });
    // Connor: pd = δ = 1/40 → ((1.96·√0.025 + 0.8416·√(0.025 − 0.025²)) / 0.025)² = 311.6
    expect(o.evidence.power!.neededSamples).toBe(312);
    expect(o.evidence.challenger).toMatchObject({ value: 1, method: "wilson" });
    expect(o.evidence.champion).toMatchObject({ value: 39 / 40, method: "wilson" });
  });

  it("approves a clear improvement on a big enough split", () => {
    const wrong = Array.from({ length: 30 }, (_, i) => i * 7);
    const o = gate(n(300, [5]), n(300, wrong));
    expect(o).toMatchObject({ decision: "auto_approved", reasonCode: "approved" });
    expect(o.evidence.difference!.low).toBeGreaterThan(0.05);
    expect(o.evidence.test!.pValue).toBeLessThan(1e-6);
    expect(o.evidence.power!.neededSamples!).toBeLessThan(300);
  });

  it("the percentile bootstrap alone is not enough on a handful of disagreements: McNemar must agree", () => {
    // 4 to 0 in 40: the bootstrap's lower bound is above 0, the exact test's p = 0.125 is not
    const o = gate(n(40), n(40, [1, 2, 3, 4]));
    expect(o.evidence.difference!.low).toBeGreaterThan(0);
    expect(o.evidence.test!.pValue).toBeCloseTo(0.125, 12);
    expect(o).toMatchObject({ decision: "rejected", reasonCode: "not_significant" });
  });

  it("same seed, same interval; another seed, another draw", () => {
    const a = gate(n(60, [3, 9, 20]), n(60, [1, 2, 3, 4, 5, 6, 7]), { bootstrapSeed: 42 });
    const b = gate(n(60, [3, 9, 20]), n(60, [1, 2, 3, 4, 5, 6, 7]), { bootstrapSeed: 42 });
    expect(b.evidence).toEqual(a.evidence);
    const c = gate(n(60, [3, 9, 20]), n(60, [1, 2, 3, 4, 5, 6, 7]), { bootstrapSeed: 43, confidence: 0.9 });
    expect(c.evidence.difference!.seed).toBe(43);
    expect([c.evidence.difference!.low, c.evidence.difference!.high]).not.toEqual([
      a.evidence.difference!.low,
      a.evidence.difference!.high,
    ]);
  });

  it("a no-worse policy (negative minImprovement) approves a tie; 'ask' leaves a tie to a person", () => {
    expect(gate(n(40, [7]), n(40, [7]), { minImprovement: -0.05 })).toMatchObject({ decision: "auto_approved" });
    const worse = gate(n(40, [1, 2, 3, 4, 5, 6]), n(40), { minImprovement: -0.05 });
    expect(worse).toMatchObject({ decision: "rejected", reasonCode: "not_significant" });
    const ask = gate(n(40, [7]), n(40, [7]), { notSignificant: "ask" });
    expect(ask).toMatchObject({ decision: "awaiting_approval", reasonCode: "tie" });
    expect(ask.results.find((r) => r.name === "primary_improvement")).toMatchObject({ hard: false, pass: false });
    // a project that approves by hand is shown the tie, and decides
    expect(gate(n(40, [7]), n(40, [7]), { autoApprove: false })).toMatchObject({
      decision: "awaiting_approval",
      reasonCode: "tie",
    });
  });

  it("too few paired samples: no conclusion, a person decides", () => {
    const o = gate(n(20), n(20, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    expect(o).toMatchObject({ decision: "awaiting_approval", reasonCode: "too_few_samples" });
    expect(o.results.find((r) => r.name === "test_samples")).toMatchObject({
      pass: false,
      challenger: 20,
      threshold: 30,
    });
  });

  it("pairs on the samples both models were scored on, and says so", () => {
    const c = criteria();
    const mine = outcomes(n(50));
    const theirs = outcomes(n(45, [0]));
    const ev = gateEvidence({ criteria: c, challenger: mine, champion: theirs, hasChampion: true }).evidence!;
    expect(ev.samples).toBe(45);
    expect(ev.note).toMatch(/45 samples both models were scored on \(challenger 50, champion 45\)/);
  });

  it("no outcomes (an evaluation stored before them, or a metric not recomputable): a person decides", () => {
    const c = criteria();
    const ev = gateEvidence({ criteria: c, challenger: outcomes(n(40)), champion: null, hasChampion: true });
    expect(ev).toMatchObject({ evidence: null, unavailable: "the champion's evaluation kept no per-sample outcomes" });
    const o = decideGate({
      criteria: c,
      challenger: summary(1),
      champion: summary(0.5),
      evidence: null,
      evidenceUnavailable: ev.unavailable,
    });
    expect(o).toMatchObject({ decision: "awaiting_approval", reasonCode: "no_evidence" });
    const seg = gateEvidence({
      criteria: criteria({ primaryMetric: "auroc" }),
      challenger: { kind: "segmentation", sampleIds: ["a"], k: 2, defect: [false, true], cells: [[0, 1]] },
      champion: null,
      hasChampion: false,
    });
    expect(seg.unavailable).toMatch(/auroc of a segmentation model cannot be recomputed per sample/);
  });

  it("ROC-AUC with a single defect: resamples without it are left out, the interval stays finite", () => {
    const truth = n(40).map((_, i) => (i === 5 ? 1 : 0));
    const mine: ClassificationOutcomes = { ...outcomes(n(40)), truth, score: truth.map((t, i) => (t ? 0.9 : i / 100)) };
    const theirs: ClassificationOutcomes = { ...mine, score: truth.map((t, i) => (t ? 0.3 : i / 100)) };
    const ev = gateEvidence({
      criteria: criteria({ primaryMetric: "auroc" }),
      challenger: mine,
      champion: theirs,
      hasChampion: true,
    });
    const d = ev.evidence!.difference!;
    expect([d.value, d.low, d.high, d.se].every(Number.isFinite)).toBe(true);
    expect(d.low).toBeLessThanOrEqual(d.value);
    expect(JSON.parse(JSON.stringify(ev.evidence))).toEqual(ev.evidence);
  });

  it("a metric that is not a proportion gets bootstrap intervals and a bootstrap test", () => {
    const c = criteria({ primaryMetric: "auroc" });
    const a = outcomes(n(80, [3]));
    const b = outcomes(n(80, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    const ev = gateEvidence({ criteria: c, challenger: a, champion: b, hasChampion: true }).evidence!;
    expect(ev.challenger.method).toBe("bootstrap");
    expect(ev.test!.name).toBe("paired_bootstrap");
    expect(ev.difference!.low).toBeLessThanOrEqual(ev.difference!.value);
    expect(ev.difference!.high).toBeGreaterThanOrEqual(ev.difference!.value);
  });

  it("a first model is judged on its floor, with its interval in the report", () => {
    const c = criteria({ minPrimary: 0.8 });
    const ev = gateEvidence({ criteria: c, challenger: outcomes(n(40, [7])), champion: null, hasChampion: false });
    const o = decideGate({ criteria: c, challenger: summary(39 / 40), champion: null, evidence: ev.evidence });
    expect(o).toMatchObject({ decision: "auto_approved", reasonCode: "approved" });
    expect(o.results.find((r) => r.name === "primary_floor")!.note).toMatch(
      /0\.975 \(95 % CI 0\.871\d* to 0\.995\d*, wilson\)/,
    );
  });
});
