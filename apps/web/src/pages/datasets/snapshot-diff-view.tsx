import { datasetRoutes, type LabelContent, type Snapshot, type SnapshotManifest } from "@kensa/contracts";
import { useMemo } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { Badge, ErrorState, Loading } from "../../ui";

function describe(c: LabelContent | undefined): string {
  if (!c) return "?";
  const parts = [c.classes.length ? c.classes.join(", ") : "no class"];
  const boxes = c.objects.filter((o) => o.box).length;
  const masks = c.objects.filter((o) => o.mask).length;
  if (boxes) parts.push(`${boxes} box${boxes > 1 ? "es" : ""}`);
  if (masks) parts.push(`${masks} mask${masks > 1 ? "s" : ""}`);
  return parts.join(" · ");
}

const labelsOf = (m: SnapshotManifest | undefined) =>
  new Map(m?.items.map((it) => [it.sampleId, it.label.content]) ?? []);

/** What changed between two snapshots, with the labels before and after for relabeled samples. */
export function SnapshotDiffView({ from, to }: { from: Snapshot; to: Snapshot }) {
  const diff = useQuery(datasetRoutes.diffSnapshots, { params: { id: from.id, other: to.id } });
  // the diff names label hashes; the manifests say what those labels are
  const a = useQuery(datasetRoutes.snapshotManifest, { params: { id: from.id } });
  const b = useQuery(datasetRoutes.snapshotManifest, { params: { id: to.id } });
  const before = useMemo(() => labelsOf(a.data), [a.data]);
  const after = useMemo(() => labelsOf(b.data), [b.data]);

  if (diff.error) return <ErrorState error={diff.error} onRetry={diff.reload} />;
  if (!diff.data) return <Loading label="Comparing" />;
  const d = diff.data;
  const sample = (id: string) => (
    <Link to={`/labeling/${id}`} className="mono">
      {id}
    </Link>
  );
  return (
    <div className="stack" data-testid="snapshot-diff">
      <p role="status">
        <Badge tone="success">+{d.added.length} added</Badge> <Badge tone="danger">−{d.removed.length} removed</Badge>{" "}
        <Badge tone="warning">{d.relabeled.length} relabeled</Badge> <Badge tone="info">{d.moved.length} moved</Badge>{" "}
        <Badge>{d.unchanged} unchanged</Badge>
      </p>
      <div className="ds-diff">
        <section aria-labelledby="diff-added">
          <h3 id="diff-added">Added ({d.added.length})</h3>
          <ul>
            {d.added.map((id) => (
              <li key={id}>
                {sample(id)} <span className="muted">{describe(after.get(id))}</span>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="diff-removed">
          <h3 id="diff-removed">Removed ({d.removed.length})</h3>
          <ul>
            {d.removed.map((id) => (
              <li key={id}>
                {sample(id)} <span className="muted">{describe(before.get(id))}</span>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="diff-relabeled">
          <h3 id="diff-relabeled">Relabeled ({d.relabeled.length})</h3>
          <ul>
            {d.relabeled.map((r) => (
              <li key={r.sampleId}>
                {sample(r.sampleId)} {describe(before.get(r.sampleId))} →{" "}
                <strong>{describe(after.get(r.sampleId))}</strong>
              </li>
            ))}
          </ul>
        </section>
        {d.moved.length ? (
          <section aria-labelledby="diff-moved">
            <h3 id="diff-moved">Moved between splits ({d.moved.length})</h3>
            <ul>
              {d.moved.map((m) => (
                <li key={m.sampleId}>
                  {sample(m.sampleId)} {m.from} → {m.to}
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>
    </div>
  );
}
