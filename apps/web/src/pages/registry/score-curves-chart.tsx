import type { EvaluationMetrics } from "@kensa/contracts";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

interface CurveSide {
  title: string;
  metrics: EvaluationMetrics | null;
  color: string;
}

/**
 * Defect-vs-OK ROC and precision–recall curves of champion and challenger on the same snapshot.
 * Each curve has its own x values, so every series carries its own points.
 */
export function ScoreCurvesChart({ sides }: { sides: CurveSide[] }) {
  const withCurves = sides.filter((s) => s.metrics?.classification?.curves);
  if (withCurves.length === 0) return null;
  const chart = (kind: "roc" | "pr") => (
    <figure className="reg-chart" data-testid={`${kind}-curve`}>
      <figcaption>{kind === "roc" ? "ROC (defect vs OK)" : "Precision–recall (defect vs OK)"}</figcaption>
      <div style={{ width: "100%", height: 240 }}>
        <ResponsiveContainer width="100%" height="100%">
          <LineChart margin={{ top: 8, right: 12, bottom: 4, left: -12 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis
              type="number"
              dataKey="x"
              domain={[0, 1]}
              tick={{ fontSize: 12 }}
              label={{
                value: kind === "roc" ? "false-positive rate" : "recall",
                position: "insideBottom",
                fontSize: 11,
              }}
            />
            <YAxis type="number" dataKey="y" domain={[0, 1]} tick={{ fontSize: 12 }} />
            <Tooltip formatter={(v) => (typeof v === "number" ? v.toFixed(3) : String(v))} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {withCurves.map((s) => {
              const c = s.metrics!.classification!.curves!;
              const data =
                kind === "roc"
                  ? c.roc.map((p) => ({ x: p.fpr, y: p.tpr }))
                  : c.pr.map((p) => ({ x: p.recall, y: p.precision }));
              return (
                <Line
                  key={s.title}
                  data={data}
                  dataKey="y"
                  name={s.title}
                  stroke={s.color}
                  dot={false}
                  type="stepAfter"
                  isAnimationActive={false}
                />
              );
            })}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
  return (
    <div className="reg-curves">
      {chart("roc")}
      {chart("pr")}
    </div>
  );
}
