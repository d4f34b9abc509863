import type { GateCriterionResult, GateEvidence } from "@kensa/contracts";
import type { ResolvedGateCriteria } from "./gate-evidence.js";

const round = (v: number) => Math.round(v * 1e6) / 1e6;
const signed = (v: number) => `${v >= 0 ? "+" : ""}${round(v)}`;

/**
 * The improvement criterion when the gate decides on evidence: enough paired test samples to
 * conclude anything, then the interval of challenger − champion above the minimum improvement
 * (and, for accuracy, McNemar's exact test significant at the same level). Each row comes with
 * the reason code it stands for when it fails.
 */
export function improvementByEvidence(
  c: ResolvedGateCriteria,
  ev: GateEvidence | null,
  unavailable: string | null,
  mine: number | undefined,
  theirs: number | undefined,
): Array<{ row: GateCriterionResult; code?: string }> {
  const metric = c.primaryMetric;
  const pct = Math.round(c.confidence * 1000) / 10;
  const description = `${metric} beats the champion's by more than ${c.minImprovement} at ${pct} % confidence (paired, same samples)`;
  const d = ev?.difference;
  if (!ev || !d) {
    return [
      {
        row: {
          name: "primary_improvement",
          description,
          hard: false,
          threshold: c.minImprovement,
          champion: theirs ?? null,
          challenger: mine ?? null,
          pass: false,
          note: `no evidence: ${unavailable ?? "no per-sample outcomes"}; a person decides (gate.requireEvidence false compares point estimates)`,
        },
        code: "no_evidence",
      },
    ];
  }
  const enough = ev.samples >= c.minTestSamples;
  const samplesRow: GateCriterionResult = {
    name: "test_samples",
    description: `at least ${c.minTestSamples} test samples scored for both models`,
    hard: false,
    threshold: c.minTestSamples,
    champion: null,
    challenger: ev.samples,
    pass: enough,
    ...(enough
      ? {}
      : { note: `${ev.samples} samples are too few for any conclusion; add test samples to the snapshot` }),
  };
  const test = ev.test;
  const mcnemar = test?.name === "mcnemar_exact";
  const testText = !test
    ? ""
    : mcnemar
      ? `; McNemar exact p = ${round(test.pValue)} (${test.challengerOnly} right only by the challenger, ${test.championOnly} only by the champion)`
      : `; bootstrap p = ${round(test.pValue)}`;
  const diffText = `difference ${signed(d.value)} (${pct} % CI ${signed(d.low)} to ${signed(d.high)}, paired bootstrap, ${d.resamples} resamples)${testText}`;
  let significant = d.low > c.minImprovement + 1e-12;
  // the percentile bootstrap is optimistic on a handful of disagreements: the exact test must agree
  if (significant && mcnemar && c.minImprovement >= 0) {
    significant = test.pValue < 1 - c.confidence && (test.challengerOnly ?? 0) > (test.championOnly ?? 0);
  }
  const base = {
    name: "primary_improvement",
    description,
    threshold: c.minImprovement,
    champion: ev.champion?.value ?? theirs ?? null,
    challenger: ev.challenger.value,
  };
  if (!enough) {
    return [
      { row: samplesRow, code: "too_few_samples" },
      {
        row: { ...base, hard: false, pass: false, note: `no conclusion on ${ev.samples} samples: ${diffText}` },
        code: "too_few_samples",
      },
    ];
  }
  const verdict = significant
    ? "the improvement is beyond noise"
    : ev.identical
      ? `a tie: identical results on all ${ev.samples} paired samples`
      : `not shown above ${c.minImprovement}`;
  const power = !significant && ev.power ? `; ${ev.power.note}` : "";
  return [
    { row: samplesRow },
    {
      row: {
        ...base,
        // a project that approves by hand sees the evidence, and decides on ties itself
        hard: c.notSignificant === "reject" && c.autoApprove,
        pass: significant,
        note: `${verdict}: ${diffText}${power}`,
      },
      ...(significant ? {} : { code: ev.identical ? "tie" : "not_significant" }),
    },
  ];
}
