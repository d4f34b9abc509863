import type { Evaluation, EvaluationMetrics } from "@kensa/contracts";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { ConfusionMatrix } from "./confusion-matrix";
import { fmt, metricName } from "./metric-names";
import { ScoreCurvesChart } from "./score-curves-chart";

export interface Side {
  title: string;
  evaluation: Evaluation | null;
}

const metricsOf = (s: Side): EvaluationMetrics | null => s.evaluation?.metrics ?? null;

function delta(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined) return "";
  const d = b - a;
  return `${d >= 0 ? "+" : ""}${d.toFixed(3)}`;
}

/** Per-class metric name for the task (what MetricSummary.perClass holds). */
function perClassName(m: EvaluationMetrics | null): string {
  if (m?.segmentation) return "IoU";
  if (m?.detection) return "AP@0.5";
  return "F1";
}

/**
 * Two evaluations side by side (champion left, challenger right) on the same frozen snapshot:
 * headline metrics, latency, the per-class table, confusion matrices, and per-class precision
 * and recall. One side may be missing (a project's first model).
 */
export function MetricsCompare({ left, right, labels }: { left: Side; right: Side; labels: readonly string[] }) {
  const a = metricsOf(left);
  const b = metricsOf(right);
  const keys = [...new Set([...Object.keys(a?.values ?? {}), ...Object.keys(b?.values ?? {})])];
  const classes = [
    ...new Set([...labels, ...Object.keys(a?.perClass ?? {}), ...Object.keys(b?.perClass ?? {})]),
  ].filter((l) => a?.perClass[l] !== undefined || b?.perClass[l] !== undefined);
  const sides = [left, right];
  const col = (s: Side) => (
    <th scope="col" className="num">
      {s.title}
    </th>
  );
  return (
    <div className="stack" data-testid="metrics-compare">
      <div className="grid-2">
        <div className="table-wrap">
          <table className="table ml-table" aria-label="Metrics">
            <caption className="reg-caption">Metrics on {b?.samples ?? a?.samples ?? 0} test images</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                {col(left)}
                {col(right)}
                <th scope="col" className="num">
                  change
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k}>
                  <th scope="row">{metricName(k)}</th>
                  <td className="num">{fmt(a?.values[k])}</td>
                  <td className="num">{fmt(b?.values[k])}</td>
                  <td className="num">{delta(a?.values[k], b?.values[k])}</td>
                </tr>
              ))}
              {b?.int8 || a?.int8
                ? keys.map((k) => (
                    <tr key={`int8-${k}`}>
                      <th scope="row">{metricName(k)} (int8)</th>
                      <td className="num">{fmt(a?.int8?.values[k])}</td>
                      <td className="num">{fmt(b?.int8?.values[k])}</td>
                      <td className="num">{delta(a?.int8?.values[k], b?.int8?.values[k])}</td>
                    </tr>
                  ))
                : null}
            </tbody>
          </table>
        </div>
        <div className="table-wrap">
          <table className="table ml-table" aria-label="Latency">
            <caption className="reg-caption">Latency per image on the hub (decode to result), ms</caption>
            <thead>
              <tr>
                <th scope="col">ms</th>
                {col(left)}
                {col(right)}
              </tr>
            </thead>
            <tbody>
              {(["p50", "p95", "mean"] as const).map((k) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td className="num">{fmt(a?.latency[k], 1)}</td>
                  <td className="num">{fmt(b?.latency[k], 1)}</td>
                </tr>
              ))}
              {a?.int8 || b?.int8 ? (
                <tr>
                  <th scope="row">p95 (int8)</th>
                  <td className="num">{fmt(a?.int8?.latency.p95, 1)}</td>
                  <td className="num">{fmt(b?.int8?.latency.p95, 1)}</td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      </div>

      <div className="table-wrap">
        <table className="table ml-table" aria-label="Per class" data-testid="per-class">
          <caption className="reg-caption">Per class: {perClassName(b ?? a)}</caption>
          <thead>
            <tr>
              <th scope="col">Class</th>
              {col(left)}
              {col(right)}
              <th scope="col" className="num">
                change
              </th>
              {b?.classification ? (
                <>
                  <th scope="col" className="num">
                    precision
                  </th>
                  <th scope="col" className="num">
                    recall
                  </th>
                  <th scope="col" className="num">
                    support
                  </th>
                </>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {classes.map((l) => {
              const pc = b?.classification?.perClass[l];
              return (
                <tr key={l}>
                  <th scope="row">{l}</th>
                  <td className="num">{fmt(a?.perClass[l])}</td>
                  <td className="num">{fmt(b?.perClass[l])}</td>
                  <td className="num">{delta(a?.perClass[l], b?.perClass[l])}</td>
                  {b?.classification ? (
                    <>
                      <td className="num">{fmt(pc?.precision)}</td>
                      <td className="num">{fmt(pc?.recall)}</td>
                      <td className="num">{pc?.support ?? "–"}</td>
                    </>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>

      {a?.classification || b?.classification ? (
        <div className="grid-2">
          {sides.map((s) => {
            const c = metricsOf(s)?.classification;
            return c ? (
              <ConfusionMatrix
                key={s.title}
                labels={c.labels}
                matrix={c.confusion}
                caption={`Confusion matrix: ${s.title}`}
              />
            ) : (
              <p key={s.title} className="muted">
                {s.title}: no confusion matrix.
              </p>
            );
          })}
        </div>
      ) : null}

      <PrecisionRecallBars left={left} right={right} />
    </div>
  );
}

/** Per-class precision and recall as bars, then the defect-vs-OK ROC and PR curves. */
function PrecisionRecallBars({ left, right }: { left: Side; right: Side }) {
  const a = metricsOf(left)?.classification;
  const b = metricsOf(right)?.classification;
  const labels = b?.labels ?? a?.labels ?? [];
  if (!a && !b) return null;
  const rows = labels.map((l) => ({
    name: l,
    [`${left.title} precision`]: a?.perClass[l]?.precision ?? 0,
    [`${left.title} recall`]: a?.perClass[l]?.recall ?? 0,
    [`${right.title} precision`]: b?.perClass[l]?.precision ?? 0,
    [`${right.title} recall`]: b?.perClass[l]?.recall ?? 0,
  }));
  const series = [
    ...(a
      ? [
          { key: `${left.title} precision`, color: "#93c5fd" },
          { key: `${left.title} recall`, color: "#fcd34d" },
        ]
      : []),
    ...(b
      ? [
          { key: `${right.title} precision`, color: "#0072B2" },
          { key: `${right.title} recall`, color: "#E69F00" },
        ]
      : []),
  ];
  const auroc = (s: Side) => metricsOf(s)?.classification?.auroc;
  return (
    <figure className="reg-chart" data-testid="pr-bars">
      <figcaption>
        Precision and recall per class · ROC-AUC (defect vs OK): {left.title} {fmt(auroc(left))}, {right.title}{" "}
        {fmt(auroc(right))}
      </figcaption>
      <div style={{ width: "100%", height: 260 }}>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 4, left: -12 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="name" tick={{ fontSize: 12 }} />
            <YAxis domain={[0, 1]} tick={{ fontSize: 12 }} />
            <Tooltip formatter={(v) => (typeof v === "number" ? v.toFixed(3) : String(v))} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {series.map((s) => (
              <Bar key={s.key} dataKey={s.key} fill={s.color} isAnimationActive={false} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <ScoreCurvesChart
        sides={[
          { title: left.title, metrics: metricsOf(left), color: "#93c5fd" },
          { title: right.title, metrics: metricsOf(right), color: "#0072B2" },
        ]}
      />
    </figure>
  );
}
