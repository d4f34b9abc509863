import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ParsedLog } from "./parse-run-log";

const fmt = (v: unknown) => (typeof v === "number" ? v.toFixed(4) : String(v));

/**
 * Loss and validation-metric curves per epoch, plus the per-step training loss (which moves
 * during the first epoch, before any epoch point exists).
 */
export function RunCurves({ log }: { log: ParsedLog }) {
  const metric = log.primaryMetric ?? "metric";
  const perEpoch = log.stepsPerEpoch;
  // steps on the epoch axis, so step and epoch curves share one x scale
  const steps = log.steps.map((s) => ({ x: perEpoch ? s.step / perEpoch : s.step, stepLoss: s.loss }));
  const epochs = log.epochs.map((e) => ({ x: e.epoch, loss: e.loss, valLoss: e.valLoss, valMetric: e.valMetric }));
  if (steps.length === 0 && epochs.length === 0) {
    return <p className="muted">No progress reported yet: the curves appear with the trainer's first steps.</p>;
  }
  return (
    <div className="run-curves">
      <figure className="run-chart" data-testid="curve-loss">
        <figcaption>Loss</figcaption>
        <div style={{ width: "100%", height: 240 }}>
          <ResponsiveContainer width="100%" height="100%">
            <LineChart margin={{ top: 8, right: 12, bottom: 4, left: -8 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis
                dataKey="x"
                type="number"
                domain={[0, "dataMax"]}
                allowDecimals={false}
                tick={{ fontSize: 12 }}
                label={{ value: "epoch", position: "insideBottomRight", offset: -2, fontSize: 12 }}
              />
              <YAxis tick={{ fontSize: 12 }} />
              <Tooltip formatter={fmt} labelFormatter={(x) => `epoch ${fmt(x)}`} />
              <Legend wrapperStyle={{ fontSize: 12 }} />
              <Line
                data={steps}
                dataKey="stepLoss"
                name="train loss (step)"
                stroke="#9ca3af"
                dot={false}
                isAnimationActive={false}
                strokeWidth={1}
              />
              <Line
                data={epochs}
                dataKey="loss"
                name="train loss (epoch)"
                stroke="#0072B2"
                isAnimationActive={false}
                strokeWidth={2}
              />
              <Line
                data={epochs}
                dataKey="valLoss"
                name="val loss"
                stroke="#D55E00"
                isAnimationActive={false}
                strokeWidth={2}
              />
            </LineChart>
          </ResponsiveContainer>
        </div>
      </figure>
      <figure className="run-chart" data-testid="curve-metric">
        <figcaption>Validation {metric}</figcaption>
        <div style={{ width: "100%", height: 240 }}>
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={epochs} margin={{ top: 8, right: 12, bottom: 4, left: -8 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="x" type="number" domain={[0, "dataMax"]} allowDecimals={false} tick={{ fontSize: 12 }} />
              <YAxis domain={[0, 1]} tick={{ fontSize: 12 }} />
              <Tooltip formatter={fmt} labelFormatter={(x) => `epoch ${x}`} />
              <Line
                dataKey="valMetric"
                name={`val ${metric}`}
                stroke="#009E73"
                isAnimationActive={false}
                strokeWidth={2}
              />
            </LineChart>
          </ResponsiveContainer>
        </div>
      </figure>
      <table className="visually-hidden">
        <caption>Per-epoch curves</caption>
        <thead>
          <tr>
            <th scope="col">epoch</th>
            <th scope="col">train loss</th>
            <th scope="col">val loss</th>
            <th scope="col">val {metric}</th>
          </tr>
        </thead>
        <tbody>
          {epochs.map((e) => (
            <tr key={e.x}>
              <th scope="row">{e.x}</th>
              <td>{fmt(e.loss)}</td>
              <td>{fmt(e.valLoss)}</td>
              <td>{fmt(e.valMetric)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
