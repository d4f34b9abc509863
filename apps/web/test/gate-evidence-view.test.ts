import type { GateReport } from "@kensa/contracts";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { GateReportTable } from "../src/pages/registry/gate-report-table.js";

const report = (over: Partial<GateReport>): GateReport => ({
  id: "gat_1",
  modelVersionId: "mv_2",
  championId: "mv_1",
  snapshotId: "a".repeat(64),
  criteria: {
    primaryMetric: "accuracy",
    minImprovement: 0,
    maxClassRegression: 0.05,
    latencyBudgetMs: null,
    maxInt8Drop: 0.02,
    minPrimary: null,
    autoApprove: true,
  },
  results: [
    {
      name: "test_samples",
      description: "at least 30 test samples scored for both models",
      hard: false,
      threshold: 30,
      champion: null,
      challenger: 40,
      pass: true,
    },
    {
      name: "primary_improvement",
      description: "accuracy beats the champion's",
      hard: true,
      threshold: 0,
      champion: 0.975,
      challenger: 1,
      pass: false,
    },
  ],
  decision: "rejected",
  reason: "refused: no significant improvement — not shown above 0",
  reasonCode: "not_significant",
  evidence: {
    metric: "accuracy",
    confidence: 0.95,
    samples: 40,
    challenger: { value: 1, low: 0.9124, high: 1, method: "wilson" },
    champion: { value: 0.975, low: 0.8712, high: 0.9956, method: "wilson" },
    difference: { value: 0.025, low: 0, high: 0.075, se: 0.024, method: "paired_bootstrap", resamples: 2000, seed: 1 },
    identical: false,
    test: { name: "mcnemar_exact", pValue: 1, challengerOnly: 1, championOnly: 0 },
    power: {
      neededSamples: 312,
      note: "about 312 paired test samples (272 more than the 40 here) would show a difference of +0.025",
    },
  },
  deploymentId: null,
  createdAt: "2026-12-07T00:00:00.000Z",
  ...over,
});

const text = (r: GateReport) =>
  renderToStaticMarkup(createElement(GateReportTable, { report: r })).replace(/<[^>]+>/g, " ");

describe("the console's gate report", () => {
  it("shows the decision in words, both models with intervals, the difference, the test and the power note", () => {
    const t = text(report({}));
    expect(t).toContain("Refused: no significant improvement.");
    expect(t).toMatch(/accuracy on 40 test samples, with 95 % intervals/);
    expect(t).toMatch(/Challenger\s+1\.000\s+0\.912 – 1\.000\s+Wilson/);
    expect(t).toMatch(/Champion\s+0\.975\s+0\.871 – 0\.996\s+Wilson/);
    expect(t).toMatch(
      /Difference \(challenger − champion\)\s+\+0\.025\s+\+0\.000 – \+0\.075\s+paired bootstrap, 2000 resamples, seed 1/,
    );
    expect(t).toMatch(
      /McNemar exact test on per-sample correctness: p = 1\.00 \(1 right only by the challenger, 0 only by the champion\)/,
    );
    expect(t).toContain("about 312 paired test samples");
    // the criteria table keeps one row per criterion (the evidence is outside it)
    const html = renderToStaticMarkup(createElement(GateReportTable, { report: report({}) }));
    const criteria = html.slice(html.indexOf('data-testid="gate-report"'), html.indexOf('data-testid="gate-evidence"'));
    expect(criteria.match(/<tr data-testid="gate-/g)).toHaveLength(2);
  });

  it("a tie, an approval and a report made before evidence read as such", () => {
    expect(text(report({ reasonCode: "tie" }))).toContain(
      "Both models give the same result on every test sample (a tie)",
    );
    expect(text(report({ reasonCode: "approved", decision: "auto_approved" }))).toContain(
      "Approved: the challenger is better than the champion by more than the noise of the test set.",
    );
    const old = text(report({ reasonCode: undefined, evidence: undefined }));
    expect(old).not.toContain("intervals");
    expect(old).toContain("refused: no significant improvement");
  });
});
