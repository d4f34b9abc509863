import type { InferenceResult } from "@kensa/contracts";
import { pct } from "./incident-status";

/** What the model said, as a list: class scores, or each detection/region with its size. */
export function ResultScores({ result }: { result: InferenceResult }) {
  const rows: Array<{ key: string; label: string; score: number; extra?: string }> = [];
  switch (result.task) {
    case "classification":
      for (const [label, score] of Object.entries(result.scores).sort((a, b) => b[1] - a[1]))
        rows.push({ key: label, label, score });
      break;
    case "detection":
      for (const [i, d] of result.detections.entries())
        rows.push({
          key: String(i),
          label: d.label,
          score: d.score,
          extra: `${Math.round(d.box[2])}×${Math.round(d.box[3])} px`,
        });
      break;
    case "anomaly":
      rows.push({ key: "image", label: `${result.label} (image)`, score: result.score });
      for (const [i, r] of result.regions.entries())
        rows.push({ key: String(i), label: r.label, score: r.score, extra: `${Math.round(r.area)} px²` });
      break;
    case "segmentation":
      for (const [i, r] of result.regions.entries())
        rows.push({ key: String(i), label: r.label, score: r.score, extra: `${Math.round(r.area)} px²` });
      break;
  }
  if (rows.length === 0) return <p className="muted">The model reported nothing on this frame.</p>;
  return (
    <ul className="scores" aria-label="Scores">
      {rows.map((r) => (
        <li key={r.key} className="score-row">
          <span className="score-label">{r.label}</span>
          <span className="score-bar" aria-hidden="true">
            <span style={{ width: pct(r.score) }} />
          </span>
          <span className="score-value">{pct(r.score)}</span>
          {r.extra ? <span className="muted score-extra">{r.extra}</span> : null}
        </li>
      ))}
    </ul>
  );
}
