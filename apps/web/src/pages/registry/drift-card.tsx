import { type DriftBand, type DriftStatistic, driftRoutes } from "@kensa/contracts";
import { useState } from "react";
import { useQuery } from "../../api/use-query";
import { Badge, Card, ErrorState, type Tone } from "../../ui";

const WINDOWS = ["24h", "7d", "30d"] as const;
const tone: Record<DriftBand, Tone> = { stable: "success", moderate: "warning", significant: "danger" };
const names: Record<DriftStatistic["statistic"], string> = {
  luma: "Brightness (mean luma)",
  contrast: "Contrast (2 × std of luma)",
  score: "Headline score",
};
const why: Record<Exclude<DriftStatistic["status"], "ok">, string> = {
  "no-reference": "no reference",
  "few-frames": "too few frames",
  "few-reference": "too few reference samples",
};

/**
 * Drift in the field (docs/monitoring.md, "Drift"): per statistic, how far the frames devices
 * fed this model in the window have moved from its evaluation snapshot, as PSI with its band,
 * and both histograms side by side (reference grey, field coloured), as proportions.
 */
export function DriftCard({ modelId }: { modelId: string }) {
  const [window, setWindow] = useState<(typeof WINDOWS)[number]>("24h");
  const [device, setDevice] = useState<string>("");
  const q = useQuery(driftRoutes.report, { params: { id: modelId }, query: { window } }, { intervalMs: 60_000 });
  const r = q.data;
  const group = r?.groups.find((g) => g.deviceId === (device || null)) ?? r?.groups[0];
  return (
    <Card title="Drift in the field">
      {q.error ? <ErrorState error={q.error} onRetry={q.reload} /> : null}
      <div className="row">
        <label>
          Window{" "}
          <select value={window} onChange={(e) => setWindow(e.target.value as (typeof WINDOWS)[number])}>
            {WINDOWS.map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
        </label>{" "}
        <label>
          Devices{" "}
          <select value={device} onChange={(e) => setDevice(e.target.value)} data-testid="drift-device">
            <option value="">all</option>
            {r?.groups
              .filter((g) => g.deviceId !== null)
              .map((g) => (
                <option key={g.deviceId} value={g.deviceId!}>
                  {g.deviceId} ({g.frames.toLocaleString()})
                </option>
              ))}
          </select>
        </label>
      </div>
      {r && !r.reference ? (
        <p className="muted" data-testid="drift-no-reference">
          No reference: no evaluation of this model holds drift histograms (evaluated before they were kept, or not
          evaluated). Evaluate it again to compare the field with its snapshot.
        </p>
      ) : null}
      {r?.reference ? (
        <p className="muted">
          Against {r.reference.samples.toLocaleString()} test samples of snapshot{" "}
          <span className="mono">{r.reference.snapshotId.slice(0, 12)}</span>; {group?.frames.toLocaleString() ?? 0}{" "}
          frames in the window, {group?.framesWithInput.toLocaleString() ?? 0} with input statistics.
        </p>
      ) : null}
      {group ? (
        <div className="table-wrap">
          <table className="table ml-table" aria-label="Drift per statistic">
            <thead>
              <tr>
                <th scope="col">Statistic</th>
                <th scope="col" className="num">
                  PSI
                </th>
                <th scope="col">Band</th>
                <th scope="col">Snapshot vs field (0 → 1)</th>
              </tr>
            </thead>
            <tbody>
              {group.statistics.map((s) => (
                <tr key={`${s.statistic}:${s.label ?? ""}`} data-testid={`drift-${s.statistic}-${s.label ?? "all"}`}>
                  <th scope="row">
                    {names[s.statistic]}
                    {s.label ? ` · ${s.label}` : s.statistic === "score" ? " · all labels" : ""}
                  </th>
                  <td className="num" title={s.noise !== null ? `noise alone ≈ ${s.noise.toFixed(3)}` : undefined}>
                    {s.psi === null ? "—" : s.psi.toFixed(3)}
                  </td>
                  <td>
                    {s.band ? (
                      <Badge tone={tone[s.band]}>{s.band}</Badge>
                    ) : (
                      <span className="muted">{why[s.status as keyof typeof why]}</span>
                    )}
                  </td>
                  <td>
                    <Histograms reference={s.reference} field={s.field} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Card>
  );
}

/** Two histograms as paired bars per bin, each as proportions of its own total. */
function Histograms({ reference, field }: { reference: number[] | null; field: number[] }) {
  const share = (h: number[] | null) => {
    const n = h?.reduce((a, b) => a + b, 0) ?? 0;
    return h && n > 0 ? h.map((x) => x / n) : null;
  };
  const r = share(reference);
  const f = share(field);
  const top = Math.max(...(r ?? [0]), ...(f ?? [0]), 1e-9);
  const w = 12;
  const h = 36;
  const bar = (x: number, p: number, fill: string) => (
    <rect x={x} y={h - (p / top) * h} width={w / 2 - 1} height={(p / top) * h} fill={fill} />
  );
  return (
    <svg width={w * field.length} height={h} role="img" aria-label="histograms: snapshot and field">
      {field.map((_, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the bins are fixed
        <g key={i}>
          {r ? bar(i * w, r[i]!, "var(--muted)") : null}
          {f ? bar(i * w + w / 2, f[i]!, "var(--accent)") : null}
        </g>
      ))}
    </svg>
  );
}
