import { useState } from "react";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { ErrorState, Loading } from "../../ui";
import { RANGES, type SparkPoint, useDeviceTelemetry } from "./telemetry-history";

/** A device's fps and p95 latency from the hub's history, over a range the person picks. */
export function TelemetryPanel({ deviceId }: { deviceId: string }) {
  const [range, setRange] = useState<number>(RANGES[0].ms);
  const h = useDeviceTelemetry(deviceId, range);
  const label = RANGES.find((r) => r.ms === range)?.label ?? "";
  return (
    <div className="stack">
      <fieldset className="segmented" aria-label="Telemetry range">
        {RANGES.map((r) => (
          <button
            key={r.label}
            type="button"
            className={`btn btn-sm ${r.ms === range ? "btn-primary" : "btn-secondary"}`}
            aria-pressed={r.ms === range}
            onClick={() => setRange(r.ms)}
          >
            {r.label}
          </button>
        ))}
      </fieldset>
      {h.error && !h.loaded ? (
        <ErrorState error={h.error} onRetry={h.reload} />
      ) : !h.loaded ? (
        <Loading label="Loading telemetry" />
      ) : (
        <TelemetryChart points={h.points} rangeMs={range} rangeLabel={label} />
      )}
    </div>
  );
}

/** fps and p95 latency on two axes, over time. */
export function TelemetryChart({
  points,
  rangeMs,
  rangeLabel,
}: {
  points: readonly SparkPoint[];
  rangeMs: number;
  rangeLabel: string;
}) {
  if (points.length === 0) return <p className="muted">No telemetry in the last {rangeLabel}.</p>;
  const end = Math.max(Date.now(), points[points.length - 1]!.t);
  const long = rangeMs > 86_400_000;
  const tick = (t: number) =>
    new Date(t).toLocaleString(undefined, {
      ...(long ? { weekday: "short" } : {}),
      hour: "2-digit",
      minute: "2-digit",
    });
  const dot = points.length === 1 ? { r: 3 } : false;
  return (
    <div
      className="chart"
      role="img"
      aria-label={`Frames per second and p95 latency, last ${rangeLabel}: ${points.length} points`}
      data-points={points.length}
    >
      <ResponsiveContainer width="100%" height={200}>
        <LineChart data={[...points]} margin={{ top: 8, right: 8, bottom: 0, left: -12 }}>
          <CartesianGrid stroke="#e2e8f0" vertical={false} />
          <XAxis
            dataKey="t"
            type="number"
            scale="time"
            domain={[end - rangeMs, end]}
            tickFormatter={tick}
            tick={{ fontSize: 11 }}
            minTickGap={40}
          />
          <YAxis yAxisId="fps" tick={{ fontSize: 11 }} allowDecimals />
          <YAxis yAxisId="ms" orientation="right" tick={{ fontSize: 11 }} unit=" ms" />
          <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleString()} />
          <Line yAxisId="fps" dataKey="fps" name="fps" stroke="#2563eb" dot={dot} isAnimationActive={false} />
          <Line
            yAxisId="ms"
            dataKey="p95"
            name="p95 latency (ms)"
            stroke="#d97706"
            dot={dot}
            isAnimationActive={false}
          />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
