import { Line, LineChart, YAxis } from "recharts";
import type { TelemetryPoint } from "./telemetry-history";

/** A tiny trend line for a table cell; the current value sits next to it as text. */
export function Sparkline({
  points,
  metric,
  color,
  label,
}: {
  points: readonly TelemetryPoint[];
  metric: "fps" | "p95";
  color: string;
  /** accessible description, e.g. "fps of cam-1" */
  label: string;
}) {
  const last = points[points.length - 1];
  const value = last ? (metric === "fps" ? last.fps.toFixed(1) : `${Math.round(last.p95)} ms`) : "—";
  return (
    <span className="spark">
      <span role="img" aria-label={`${label}: ${value}, ${points.length} samples`}>
        <LineChart width={84} height={28} data={[...points]} margin={{ top: 3, bottom: 3, left: 0, right: 0 }}>
          <YAxis hide domain={["auto", "auto"]} />
          <Line
            type="monotone"
            dataKey={metric}
            stroke={color}
            strokeWidth={1.5}
            dot={false}
            isAnimationActive={false}
          />
        </LineChart>
      </span>
      <span className="spark-value">{value}</span>
    </span>
  );
}
