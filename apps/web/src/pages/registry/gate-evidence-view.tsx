import type { GateEvidence, GateReport } from "@kensa/contracts";
import { Facts } from "../../ui";
import { fmt, metricName } from "./metric-names";

/** The gate's decision in plain words, from its reason code. */
export function decisionInWords(report: GateReport): string {
  const first = report.championId === null;
  switch (report.reasonCode) {
    case "approved":
      return first
        ? "Approved: the project's first model, and it clears the floor."
        : "Approved: the challenger is better than the champion by more than the noise of the test set.";
    case "tie":
      return "Refused: no significant improvement. Both models give the same result on every test sample (a tie).";
    case "not_significant":
      return "Refused: no significant improvement. The difference is within what the test set's noise can produce.";
    case "too_few_samples":
      return "No conclusion: too few test samples to tell the models apart. A person decides.";
    case "no_evidence":
      return "No evidence: the per-sample results needed for an interval are missing. A person decides.";
    case "manual_approval":
      return "Every criterion passed; this project approves models by hand.";
    case "evaluation_failed":
      return "The challenger could not be evaluated. A person decides.";
    case undefined:
      return report.reason;
    default:
      return report.decision === "rejected"
        ? `Rejected: ${report.reasonCode} failed.`
        : `A person decides: ${report.reasonCode} did not pass.`;
  }
}

const pct = (c: number) => `${Math.round(c * 1000) / 10} %`;
const signed = (v: number) => `${v >= 0 ? "+" : "−"}${fmt(Math.abs(v))}`;
const METHOD: Record<string, string> = {
  wilson: "Wilson",
  bootstrap: "bootstrap",
  paired_bootstrap: "paired bootstrap",
};

/**
 * The numbers behind the decision: each model's primary metric with its interval, the paired
 * difference with its interval against the minimum improvement, the test and its p-value, and
 * how many samples would settle a difference the test set could not.
 */
export function GateEvidenceView({ report }: { report: GateReport }) {
  const ev = report.evidence;
  if (!ev) return null;
  const d = ev.difference;
  const rows: Array<{ name: string; value: string; interval: string; method: string }> = [
    {
      name: "Challenger",
      value: fmt(ev.challenger.value),
      interval: `${fmt(ev.challenger.low)} – ${fmt(ev.challenger.high)}`,
      method: METHOD[ev.challenger.method] ?? ev.challenger.method,
    },
  ];
  if (ev.champion) {
    rows.push({
      name: "Champion",
      value: fmt(ev.champion.value),
      interval: `${fmt(ev.champion.low)} – ${fmt(ev.champion.high)}`,
      method: METHOD[ev.champion.method] ?? ev.champion.method,
    });
  }
  if (d) {
    rows.push({
      name: "Difference (challenger − champion)",
      value: signed(d.value),
      interval: `${signed(d.low)} – ${signed(d.high)}`,
      method: `${METHOD[d.method]}, ${d.resamples} resamples, seed ${d.seed}`,
    });
  }
  return (
    <section className="stack" data-testid="gate-evidence" aria-label="Gate evidence">
      <p>
        <strong>{decisionInWords(report)}</strong>
      </p>
      <div className="table-wrap">
        <table className="table ml-table">
          <caption className="reg-caption">
            {metricName(ev.metric)} on {ev.samples} test samples, with {pct(ev.confidence)} intervals
          </caption>
          <thead>
            <tr>
              <th scope="col" />
              <th scope="col" className="num">
                Value
              </th>
              <th scope="col" className="num">
                {pct(ev.confidence)} interval
              </th>
              <th scope="col">Method</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td className="num">{r.value}</td>
                <td className="num">{r.interval}</td>
                <td>{r.method}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {d ? <IntervalBar evidence={ev} threshold={report.criteria.minImprovement} /> : null}
      <Facts
        items={[
          ...(ev.test ? ([["Test", testText(ev.test)]] as Array<[string, string]>) : []),
          ...(ev.power ? ([["Samples needed", ev.power.note]] as Array<[string, string]>) : []),
          ...(ev.note ? ([["Note", ev.note]] as Array<[string, string]>) : []),
        ]}
      />
    </section>
  );
}

function testText(t: NonNullable<GateEvidence["test"]>): string {
  const p = t.pValue < 0.0001 ? "p < 0.0001" : `p = ${t.pValue.toPrecision(3)}`;
  return t.name === "mcnemar_exact"
    ? `McNemar exact test on per-sample correctness: ${p} (${t.challengerOnly} right only by the challenger, ${t.championOnly} only by the champion)`
    : `paired bootstrap: ${p} (share of resamples at or below the minimum improvement)`;
}

/** The difference's interval on a line, with the minimum improvement it has to clear. */
function IntervalBar({ evidence, threshold }: { evidence: GateEvidence; threshold: number }) {
  const d = evidence.difference!;
  const lo = Math.min(d.low, threshold, 0);
  const hi = Math.max(d.high, threshold, 0);
  const span = hi - lo || 1;
  const W = 320;
  const pad = 12;
  const x = (v: number) => pad + ((v - lo) / span) * (W - 2 * pad);
  const above = d.low > threshold;
  return (
    <svg
      viewBox={`0 0 ${W} 40`}
      width={W}
      height={40}
      role="img"
      aria-label={`difference ${signed(d.value)}, interval ${signed(d.low)} to ${signed(d.high)}, minimum improvement ${threshold}`}
    >
      <line x1={x(threshold)} x2={x(threshold)} y1={4} y2={36} stroke="currentColor" strokeDasharray="3 3" />
      <line
        x1={x(d.low)}
        x2={x(d.high)}
        y1={20}
        y2={20}
        stroke={above ? "var(--success, green)" : "var(--warning, orange)"}
        strokeWidth={4}
      />
      <circle cx={x(d.value)} cy={20} r={5} fill="currentColor" />
      <text x={x(threshold) + 3} y={12} fontSize={10} fill="currentColor">
        min. improvement {threshold}
      </text>
    </svg>
  );
}
