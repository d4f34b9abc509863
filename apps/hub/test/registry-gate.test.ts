import { type GateCriteria, GateCriteria as GateCriteriaSchema, type MetricSummary, parseWith } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { decideGate } from "../src/registry/decide-gate.js";

// the rules on point estimates (requireEvidence false); registry-gate-stats.test.ts decides on evidence
const criteria = (over: Partial<GateCriteria> = {}): GateCriteria =>
  parseWith(GateCriteriaSchema, { primaryMetric: "accuracy", requireEvidence: false, ...over });

const summary = (
  accuracy: number,
  perClass: Record<string, number> = {},
  p95 = 10,
  int8?: number,
): MetricSummary & { int8?: MetricSummary } => ({
  values: { accuracy, f1_macro: accuracy - 0.01 },
  perClass,
  latency: { p50: p95 / 2, p95, mean: p95 / 2, samples: 20 },
  ...(int8 !== undefined
    ? { int8: { values: { accuracy: int8 }, perClass: {}, latency: { p50: 1, p95: 2, mean: 1, samples: 20 } } }
    : {}),
});

const row = (o: ReturnType<typeof decideGate>, name: string) => {
  const r = o.results.find((x) => x.name === name);
  if (!r) throw new Error(`no ${name} in ${o.results.map((x) => x.name)}`);
  return r;
};

/** Hand-made evaluation numbers, one criterion at a time. */
describe("the champion/challenger gate, criterion by criterion", () => {
  it("auto-approves a challenger that passes everything, reporting threshold, both values and the verdict", () => {
    const o = decideGate({
      criteria: criteria({ minImprovement: 0.01, latencyBudgetMs: 50 }),
      challenger: summary(0.93, { ok: 0.95, defect: 0.9 }, 20),
      champion: summary(0.9, { ok: 0.94, defect: 0.88 }, 25),
    });
    expect(o.decision).toBe("auto_approved");
    expect(row(o, "primary_improvement")).toMatchObject({
      threshold: 0.01,
      champion: 0.9,
      challenger: 0.93,
      pass: true,
      hard: false,
    });
    expect(row(o, "class_regression")).toMatchObject({ pass: true, threshold: 0.05 });
    expect(row(o, "latency_p95")).toMatchObject({
      threshold: 50,
      champion: 25,
      challenger: 20,
      pass: true,
      hard: true,
    });
  });

  it("primary improvement: a challenger that improves by less than X awaits a person", () => {
    const o = decideGate({
      criteria: criteria({ minImprovement: 0.02 }),
      challenger: summary(0.91),
      champion: summary(0.9),
    });
    expect(row(o, "primary_improvement")).toMatchObject({ pass: false, champion: 0.9, challenger: 0.91 });
    expect(o.decision).toBe("awaiting_approval");
    expect(o.reason).toMatch(/primary_improvement/);
  });

  it("a negative minImprovement tolerates a small drop (e.g. for a faster model)", () => {
    const o = decideGate({
      criteria: criteria({ minImprovement: -0.01 }),
      challenger: summary(0.895),
      champion: summary(0.9),
    });
    expect(row(o, "primary_improvement").pass).toBe(true);
  });

  it("class regression: the worst class is named; a drop beyond Y awaits a person", () => {
    const o = decideGate({
      criteria: criteria({ maxClassRegression: 0.05 }),
      challenger: summary(0.95, { ok: 0.99, scratch: 0.8, dent: 0.9 }),
      champion: summary(0.9, { ok: 0.9, scratch: 0.9, dent: 0.91 }),
    });
    const r = row(o, "class_regression");
    expect(r).toMatchObject({ pass: false, threshold: 0.05, champion: 0.9, challenger: 0.8 });
    expect(r.note).toMatch(/scratch/);
    expect(o.decision).toBe("awaiting_approval");
    const off = decideGate({
      criteria: criteria({ maxClassRegression: null }),
      challenger: summary(0.95, { scratch: 0.1 }),
      champion: summary(0.9, { scratch: 0.9 }),
    });
    expect(off.results.map((x) => x.name)).not.toContain("class_regression");
  });

  it("latency budget is hard: a slow challenger is rejected whatever its accuracy", () => {
    const o = decideGate({
      criteria: criteria({ latencyBudgetMs: 15 }),
      challenger: summary(0.99, {}, 40),
      champion: summary(0.8, {}, 10),
    });
    expect(row(o, "latency_p95")).toMatchObject({ pass: false, hard: true, challenger: 40, threshold: 15 });
    expect(o.decision).toBe("rejected");
    expect(o.reason).toMatch(/latency_p95/);
  });

  it("int8: within Z of fp32 passes, beyond awaits a person; without an int8 variant it is not checked", () => {
    const close = decideGate({
      criteria: criteria({ maxInt8Drop: 0.02 }),
      challenger: summary(0.95, {}, 10, 0.94),
      champion: summary(0.9),
    });
    expect(row(close, "int8_drop")).toMatchObject({ pass: true, challenger: 0.01, threshold: 0.02 });
    const far = decideGate({
      criteria: criteria({ maxInt8Drop: 0.02 }),
      challenger: summary(0.95, {}, 10, 0.9),
      champion: summary(0.9),
    });
    expect(row(far, "int8_drop").pass).toBe(false);
    expect(far.decision).toBe("awaiting_approval");
    const none = decideGate({ criteria: criteria(), challenger: summary(0.95), champion: summary(0.9) });
    expect(none.results.map((x) => x.name)).not.toContain("int8_drop");
  });

  it("absolute floor is hard: below minPrimary the challenger is rejected", () => {
    const o = decideGate({ criteria: criteria({ minPrimary: 0.8 }), challenger: summary(0.7), champion: summary(0.6) });
    expect(row(o, "primary_floor")).toMatchObject({ pass: false, hard: true, threshold: 0.8, challenger: 0.7 });
    expect(o.decision).toBe("rejected");
  });

  it("first model: awaits a person without a floor, is auto-approved when it clears the floor", () => {
    const noFloor = decideGate({ criteria: criteria(), challenger: summary(0.99), champion: null });
    expect(row(noFloor, "first_model")).toMatchObject({ pass: false, champion: null, challenger: 0.99 });
    expect(noFloor.decision).toBe("awaiting_approval");
    const floor = decideGate({ criteria: criteria({ minPrimary: 0.8 }), challenger: summary(0.85), champion: null });
    expect(row(floor, "first_model").pass).toBe(true);
    expect(row(floor, "primary_floor").pass).toBe(true);
    expect(floor.decision).toBe("auto_approved");
  });

  it("autoApprove false: a challenger that passes everything still awaits a person", () => {
    const o = decideGate({
      criteria: criteria({ autoApprove: false }),
      challenger: summary(0.95),
      champion: summary(0.9),
    });
    expect(o.results.every((r) => r.pass)).toBe(true);
    expect(o.decision).toBe("awaiting_approval");
  });

  it("a primary metric the task does not measure fails softly (a person decides)", () => {
    const o = decideGate({
      criteria: criteria({ primaryMetric: "map50", minPrimary: 0.5 }),
      challenger: summary(0.9),
      champion: summary(0.8),
    });
    expect(row(o, "primary_floor")).toMatchObject({ pass: false, hard: false });
    expect(o.decision).toBe("awaiting_approval");
  });
});
