import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { TelemetryPoint } from "./telemetry-history";

/** fps and p95 latency over the history this browser has collected, on two axes. */
export function TelemetryChart({ points }: { points: readonly TelemetryPoint[] }) {
  if (points.length < 2) return <p className="muted">Collecting telemetry… (a point every few seconds)</p>;
  const data = points.map((p) => ({ ...p, time: new Date(p.t).toLocaleTimeString() }));
  return (
    <div className="chart" role="img" aria-label={`Frames per second and p95 latency, last ${points.length} samples`}>
      <ResponsiveContainer width="100%" height={200}>
        <LineChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: -12 }}>
          <CartesianGrid stroke="#e2e8f0" vertical={false} />
          <XAxis dataKey="time" tick={{ fontSize: 11 }} minTickGap={40} />
          <YAxis yAxisId="fps" tick={{ fontSize: 11 }} allowDecimals />
          <YAxis yAxisId="ms" orientation="right" tick={{ fontSize: 11 }} unit=" ms" />
          <Tooltip />
          <Line yAxisId="fps" dataKey="fps" name="fps" stroke="#2563eb" dot={false} isAnimationActive={false} />
          <Line
            yAxisId="ms"
            dataKey="p95"
            name="p95 latency (ms)"
            stroke="#d97706"
            dot={false}
            isAnimationActive={false}
          />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
