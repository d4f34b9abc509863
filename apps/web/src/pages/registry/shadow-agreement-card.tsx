import { type AgreementRate, type ShadowPairAgreement, shadowRoutes } from "@kensa/contracts";
import { Link } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { Card, ErrorState, TimeAgo } from "../../ui";
import { useModels } from "../fleet/use-model-names";

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null | undefined) => (x === null || x === undefined ? "—" : x.toFixed(3));

/** "91.2% (88.0–93.6%, 95% CI)": a rate never shows without how sure it is. */
function Rate({ r }: { r: AgreementRate }) {
  if (r.rate === null) return <span className="muted">no frames</span>;
  return (
    <>
      {pct(r.rate)}{" "}
      <span className="muted">
        ({pct(r.interval[0])}–{pct(r.interval[1])})
      </span>
    </>
  );
}

/**
 * Field evidence beside the offline metrics: how often this model, run in shadow beside a
 * champion on devices, reached the champion's decision on the same frames (docs/agent.md,
 * "Shadow mode"). Refreshed while the page is open, since devices report during a rollout.
 */
export function ShadowAgreementCard({ modelId, projectId }: { modelId: string; projectId: string }) {
  const q = useQuery(shadowRoutes.agreement, { params: { id: modelId } }, { intervalMs: 30_000 });
  const { names } = useModels(projectId);
  const modelName = (id: string) => names.get(id) ?? id;
  return (
    <Card title="Shadow agreement on devices">
      {q.error ? <ErrorState error={q.error} onRetry={q.reload} /> : null}
      {q.data && q.data.pairs.length === 0 ? (
        <p className="muted" data-testid="shadow-agreement-none">
          Not run in shadow yet: no device has reported this model beside a champion.
        </p>
      ) : null}
      {q.data?.pairs.map((p) => (
        <PairView key={p.championModelVersionId} pair={p} modelName={modelName} />
      ))}
    </Card>
  );
}

function PairView({ pair, modelName }: { pair: ShadowPairAgreement; modelName: (id: string) => string }) {
  return (
    <div className="stack" data-testid={`shadow-agreement-${pair.championModelVersionId}`}>
      <p>
        Beside <Link to={`/registry/${pair.championModelVersionId}`}>{modelName(pair.championModelVersionId)}</Link> on{" "}
        {pair.devices} device{pair.devices === 1 ? "" : "s"}: agrees on{" "}
        <strong data-testid="shadow-agreement-rate">
          <Rate r={pair.overall} />
        </strong>{" "}
        of {pair.overall.frames.toLocaleString()} frames · score delta mean {num(pair.scoreDelta.mean)}, p95 up to{" "}
        {num(pair.scoreDelta.p95Max)}
        {pair.iou ? ` · box IoU ${num(pair.iou.mean)} over ${pair.iou.n.toLocaleString()} frames` : ""} ·{" "}
        {pair.captures.toLocaleString()} disagreements captured
      </p>
      <p className="muted">
        Since {new Date(pair.since).toLocaleString()} · last report <TimeAgo iso={pair.lastReportedAt} />
      </p>
      <div className="table-wrap">
        <table className="table ml-table" aria-label="Shadow agreement per label">
          <thead>
            <tr>
              <th scope="col">Champion's label</th>
              <th scope="col" className="num">
                Frames
              </th>
              <th scope="col" className="num">
                Agreement (95% CI)
              </th>
            </tr>
          </thead>
          <tbody>
            {pair.byLabel.map((l) => (
              <tr key={l.label}>
                <th scope="row">{l.label}</th>
                <td className="num">{l.frames.toLocaleString()}</td>
                <td className="num">
                  <Rate r={l} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
