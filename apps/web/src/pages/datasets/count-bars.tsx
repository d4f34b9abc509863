import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export interface Series {
  key: string;
  label: string;
  color: string;
}

export type CountRow = { name: string } & Record<string, number | string>;

/**
 * A bar chart of counts per category (one bar per series), with the numbers also in a table
 * for screen readers: a chart alone says nothing to them.
 */
export function CountBars({
  title,
  rows,
  series,
  height = 220,
}: {
  title: string;
  rows: readonly CountRow[];
  series: readonly Series[];
  height?: number;
}) {
  return (
    <figure className="ds-chart" data-testid={`chart-${title}`}>
      <figcaption>{title}</figcaption>
      {rows.length === 0 ? (
        <p className="muted">No data.</p>
      ) : (
        <div style={{ width: "100%", height }} aria-hidden="true">
          <ResponsiveContainer width="100%" height="100%">
            <BarChart data={[...rows]} margin={{ top: 8, right: 8, bottom: 4, left: -12 }}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="name" tick={{ fontSize: 12 }} interval={0} />
              <YAxis allowDecimals={false} tick={{ fontSize: 12 }} />
              <Tooltip />
              {series.length > 1 ? <Legend wrapperStyle={{ fontSize: 12 }} /> : null}
              {series.map((s) => (
                <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color} isAnimationActive={false} />
              ))}
            </BarChart>
          </ResponsiveContainer>
        </div>
      )}
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">category</th>
            {series.map((s) => (
              <th key={s.key} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <th scope="row">{r.name}</th>
              {series.map((s) => (
                <td key={s.key}>{r[s.key] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** `{a: 3, b: 1}` → rows for one series named `key`. */
export function rowsOf(counts: Record<string, number>, key = "count", order?: readonly string[]): CountRow[] {
  const names = order ? [...order, ...Object.keys(counts).filter((k) => !order.includes(k))] : Object.keys(counts);
  return names.map((name) => ({ name, [key]: counts[name] ?? 0 }));
}
