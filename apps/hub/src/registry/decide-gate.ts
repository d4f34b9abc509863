import type { GateCriteria, GateCriterionResult, GateDecision, GateEvidence, MetricSummary } from "@kensa/contracts";
import { resolveCriteria } from "./gate-evidence.js";
import { improvementByEvidence } from "./gate-improvement.js";

export interface GateInput {
  criteria: GateCriteria;
  /** the challenger on the evaluation snapshot (with `int8` when it has an int8 variant) */
  challenger: MetricSummary & { int8?: MetricSummary };
  /** the champion on the same snapshot; null when the project has none */
  champion: MetricSummary | null;
  /** extra rows (e.g. an evaluation that failed), already decided */
  extra?: GateCriterionResult[];
  /** intervals and the paired difference (gateEvidence); null or absent when not computed */
  evidence?: GateEvidence | null;
  /** why there is no evidence, for the report */
  evidenceUnavailable?: string | null;
}

export interface GateOutcome {
  results: GateCriterionResult[];
  decision: GateDecision;
  reason: string;
  /** the decision in one code (GateReport.reasonCode) */
  reasonCode: string;
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * The champion/challenger gate as a pure function of measured numbers. Hard criteria (the
 * absolute floor, the latency budget, and — deciding on evidence — an improvement not shown
 * beyond noise) reject a challenger that fails them; soft ones (too few paired test samples,
 * per-class regressions, the int8 drop, a first model without a floor) leave it awaiting a
 * person. When everything passes it is auto-approved, unless the project turned `autoApprove`
 * off. `reasonCode` names what decided (docs/training.md, "How the gate decides on evidence").
 */
export function decideGate(input: GateInput): GateOutcome {
  const { challenger, champion } = input;
  const c = resolveCriteria(input.criteria);
  const metric = c.primaryMetric;
  const mine = challenger.values[metric];
  const theirs = champion?.values[metric];
  const results: GateCriterionResult[] = [...(input.extra ?? [])];
  // the code a failing row stands for, when it is not the row's name
  const codes = new Map<GateCriterionResult, string>();
  const ev = input.evidence ?? null;
  const missing = `${metric} is not measured for this model's task`;

  if (c.minPrimary !== null) {
    results.push({
      name: "primary_floor",
      description: `${metric} ≥ ${c.minPrimary}`,
      hard: mine !== undefined,
      threshold: c.minPrimary,
      champion: theirs ?? null,
      challenger: mine ?? null,
      pass: mine !== undefined && mine >= c.minPrimary,
      ...(mine === undefined ? { note: missing } : ev ? { note: `${ci(ev.challenger, ev.confidence)}` } : {}),
    });
  }
  if (champion && c.requireEvidence) {
    for (const r of improvementByEvidence(c, ev, input.evidenceUnavailable ?? null, mine, theirs)) {
      results.push(r.row);
      if (r.code) codes.set(r.row, r.code);
    }
  } else if (champion) {
    const delta = mine !== undefined && theirs !== undefined ? mine - theirs : undefined;
    results.push({
      name: "primary_improvement",
      description: `${metric} improves on the champion's by ≥ ${c.minImprovement}`,
      hard: false,
      threshold: c.minImprovement,
      champion: theirs ?? null,
      challenger: mine ?? null,
      pass: delta !== undefined && delta >= c.minImprovement - 1e-12,
      note: delta !== undefined ? `change ${delta >= 0 ? "+" : ""}${round(delta)}` : missing,
    });
  }
  if (champion) {
    if (c.maxClassRegression !== null) {
      let worst: { label: string; drop: number; champion: number; challenger: number } | null = null;
      for (const [label, before] of Object.entries(champion.perClass)) {
        const after = challenger.perClass[label];
        if (after === undefined) continue;
        const drop = before - after;
        if (!worst || drop > worst.drop) worst = { label, drop, champion: before, challenger: after };
      }
      results.push({
        name: "class_regression",
        description: `no class's metric drops by more than ${c.maxClassRegression}`,
        hard: false,
        threshold: c.maxClassRegression,
        champion: worst?.champion ?? null,
        challenger: worst?.challenger ?? null,
        pass: !worst || worst.drop <= c.maxClassRegression + 1e-12,
        note: worst ? `worst class: ${worst.label} (change ${round(-worst.drop)})` : "no class scored by both",
      });
    }
  } else {
    const floor = c.minPrimary !== null;
    results.push({
      name: "first_model",
      description: "the project has no champion yet",
      hard: false,
      threshold: c.minPrimary,
      champion: null,
      challenger: mine ?? null,
      pass: floor,
      note:
        (floor
          ? "judged on the absolute floor (primary_floor) alone"
          : "without a floor (gate.minPrimary) a person approves a project's first model") +
        (ev && ev.samples < c.minTestSamples
          ? `; only ${ev.samples} test samples (gate.minTestSamples ${c.minTestSamples}): the interval is wide`
          : ""),
    });
  }
  if (c.latencyBudgetMs !== null) {
    results.push({
      name: "latency_p95",
      description: `p95 latency ≤ ${c.latencyBudgetMs} ms`,
      hard: true,
      threshold: c.latencyBudgetMs,
      champion: champion ? round(champion.latency.p95) : null,
      challenger: round(challenger.latency.p95),
      pass: challenger.latency.p95 <= c.latencyBudgetMs,
    });
  }
  if (c.maxInt8Drop !== null && challenger.int8) {
    const q = challenger.int8.values[metric];
    const drop = mine !== undefined && q !== undefined ? mine - q : undefined;
    results.push({
      name: "int8_drop",
      description: `the int8 variant's ${metric} is within ${c.maxInt8Drop} of fp32`,
      hard: false,
      threshold: c.maxInt8Drop,
      champion: null,
      challenger: drop !== undefined ? round(drop) : null,
      pass: drop !== undefined && drop <= c.maxInt8Drop + 1e-12,
      note: drop !== undefined ? `fp32 ${round(mine!)}, int8 ${round(q!)}` : missing,
    });
  }

  const hardFails = results.filter((r) => r.hard && !r.pass);
  const softFails = results.filter((r) => !r.hard && !r.pass);
  const codeOf = (r: GateCriterionResult) => codes.get(r) ?? r.name;
  // a refusal for want of evidence is said first, in words, whatever else failed
  const refusal = (rows: GateCriterionResult[]) => {
    const r = rows.find((x) => ["tie", "not_significant"].includes(codeOf(x)));
    return r ? `no significant improvement — ${r.note ?? ""}` : null;
  };
  let decision: GateDecision;
  let reason: string;
  let reasonCode: string;
  if (hardFails.length) {
    decision = "rejected";
    reasonCode = codeOf(hardFails[0]!);
    const why = refusal(hardFails);
    const others = hardFails.filter((r) => !["tie", "not_significant"].includes(codeOf(r))).map((r) => r.name);
    reason = why
      ? `refused: ${why}${others.length ? `; hard criteria failed too: ${others.join(", ")}` : ""}`
      : `hard criteria failed: ${others.join(", ")}`;
  } else if (softFails.length) {
    decision = "awaiting_approval";
    reasonCode = codeOf(softFails[0]!);
    const why = refusal(softFails);
    reason = `not passed: ${softFails.map((r) => r.name).join(", ")}${why ? ` (${why})` : ""}; a person decides`;
  } else if (!c.autoApprove) {
    decision = "awaiting_approval";
    reasonCode = "manual_approval";
    reason = "every criterion passed; the project approves by hand (gate.autoApprove is false)";
  } else {
    decision = "auto_approved";
    reasonCode = "approved";
    reason =
      champion && c.requireEvidence && ev?.difference
        ? `every criterion passed; the improvement is beyond noise (${diffText(ev)})`
        : "every criterion passed";
  }
  return { results, decision, reason, reasonCode };
}

/** "0.975 (95 % CI 0.87–0.996, Wilson)" */
export function ci(m: { value: number; low: number; high: number; method: string }, confidence: number): string {
  const pct = Math.round(confidence * 1000) / 10;
  return `${round(m.value)} (${pct} % CI ${round(m.low)} to ${round(m.high)}, ${m.method})`;
}

/** "+0.025 (95 % CI −0.01 to +0.06)" */
export function diffText(ev: GateEvidence): string {
  const d = ev.difference!;
  const s = (v: number) => `${v >= 0 ? "+" : ""}${round(v)}`;
  return `${ev.metric} ${s(d.value)}, ${Math.round(ev.confidence * 1000) / 10} % CI ${s(d.low)} to ${s(d.high)}`;
}
