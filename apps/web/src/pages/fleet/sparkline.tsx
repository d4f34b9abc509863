import { Line, LineChart, YAxis } from "recharts";
import type { SparkPoint } from "./telemetry-history";

/**
 * A tiny trend line for a table cell (the hub's last hour, then the newest live sample); the
 * current value sits next to it as text.
 */
export function Sparkline({
  points,
  metric,
  color,
  label,
  loading = false,
}: {
  points: readonly SparkPoint[];
  metric: "fps" | "p95";
  color: string;
  /** accessible description, e.g. "fps of cam-1" */
  label: string;
  /** the hub's history is still on its way: no point yet does not mean no telemetry */
  loading?: boolean;
}) {
  const last = points[points.length - 1];
  const value = last ? (metric === "fps" ? last.fps.toFixed(1) : `${Math.round(last.p95)} ms`) : "—";
  const described = last
    ? `${label}: ${value}, ${points.length} point${points.length === 1 ? "" : "s"}`
    : `${label}: ${loading ? "loading" : "no telemetry yet"}`;
  return (
    <span className="spark" data-points={points.length}>
      <span role="img" aria-label={described}>
        <LineChart width={84} height={28} data={[...points]} margin={{ top: 3, bottom: 3, left: 0, right: 0 }}>
          <YAxis hide domain={["auto", "auto"]} />
          <Line
            type="monotone"
            dataKey={metric}
            stroke={color}
            strokeWidth={1.5}
            // a lone point has no line to draw: show it as a dot
            dot={points.length === 1 ? { r: 2, fill: color } : false}
            isAnimationActive={false}
          />
        </LineChart>
      </span>
      <span className="spark-value">{value}</span>
    </span>
  );
}
