import type { GateReport } from "@kensa/contracts";
import { Badge, type Tone } from "../../ui";
import { GateEvidenceView } from "./gate-evidence-view";
import { fmt, metricName } from "./metric-names";

const DECISION: Record<GateReport["decision"], { tone: Tone; text: string }> = {
  auto_approved: { tone: "success", text: "auto-approved" },
  awaiting_approval: { tone: "warning", text: "awaiting approval" },
  rejected: { tone: "danger", text: "rejected by the gate" },
};

/**
 * The gate's verdict on a challenger: every criterion with its threshold, both values, pass or
 * fail; then the evidence (intervals, the paired difference, the test) when the report has it.
 */
export function GateReportTable({ report }: { report: GateReport }) {
  const d = DECISION[report.decision];
  return (
    <>
      <div className="stack" data-testid="gate-report">
        <p>
          <Badge tone={d.tone}>{d.text}</Badge> {report.reason}
        </p>
        <p className="muted">
          Primary metric {metricName(report.criteria.primaryMetric)}, scored on snapshot{" "}
          <span className="mono">{report.snapshotId.slice(0, 12)}</span>
          {report.championId ? "" : " · no champion yet (first model)"}.
        </p>
        <div className="table-wrap">
          <table className="table ml-table" aria-label="Gate criteria">
            <thead>
              <tr>
                <th scope="col">Criterion</th>
                <th scope="col">Kind</th>
                <th scope="col" className="num">
                  Threshold
                </th>
                <th scope="col" className="num">
                  Champion
                </th>
                <th scope="col" className="num">
                  Challenger
                </th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {report.results.map((r) => (
                <tr key={r.name} data-testid={`gate-${r.name}`}>
                  <th scope="row">
                    {r.description}
                    {r.note ? <div className="muted">{r.note}</div> : null}
                  </th>
                  <td>{r.hard ? "hard" : "soft"}</td>
                  <td className="num">{fmt(r.threshold)}</td>
                  <td className="num">{fmt(r.champion)}</td>
                  <td className="num">{fmt(r.challenger)}</td>
                  <td>
                    <Badge tone={r.pass ? "success" : r.hard ? "danger" : "warning"}>{r.pass ? "pass" : "fail"}</Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <GateEvidenceView report={report} />
    </>
  );
}
