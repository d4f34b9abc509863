import { datasetRoutes, type LabelStatus, type Project, type SampleSource, type SplitName } from "@kensa/contracts";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { ProjectGate } from "../../project-gate";
import { Badge, Button, EmptyState, ErrorState, Field, Loading, Page } from "../../ui";
import { SampleThumb } from "../labeling/sample-thumb";
import { DatasetStatsPanel } from "./dataset-stats-panel";
import { SPLITS } from "./split-colors";
import { useSamplePages } from "./use-sample-pages";
import "../labeling/labeling.css";
import "./datasets.css";

const STATUSES: readonly LabelStatus[] = ["unlabeled", "labeled", "reviewed"];
const SOURCES: readonly SampleSource[] = ["verdict", "capture", "import", "upload", "synthetic"];

/** Browse a project's samples with their labels drawn on, filter them, and see the counts. */
export function DatasetPage() {
  return (
    <Page
      title="Dataset"
      subtitle="Samples, their labels and provenance"
      actions={<Link to="/datasets/snapshots">Snapshots →</Link>}
    >
      <ProjectGate>{(p) => <Dataset project={p} />}</ProjectGate>
    </Page>
  );
}

function Dataset({ project }: { project: Project }) {
  const [params, setParams] = useSearchParams();
  const status = (params.get("status") ?? "") as LabelStatus | "";
  const source = (params.get("source") ?? "") as SampleSource | "";
  const klass = params.get("class") ?? "";
  const snapshotId = params.get("snapshot") ?? "";
  const split = (params.get("split") ?? "") as SplitName | "";
  const set = (key: string, value: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(key, value);
        else next.delete(key);
        if (key === "snapshot" && !value) next.delete("split");
        return next;
      },
      { replace: true },
    );

  const stats = useQuery(datasetRoutes.stats, { params: { id: project.id } });
  const snapshots = useQuery(datasetRoutes.listSnapshots, { params: { id: project.id } });
  const manifest = useQuery(
    datasetRoutes.snapshotManifest,
    { params: { id: snapshotId } },
    { enabled: Boolean(snapshotId) },
  );
  const splitOf = useMemo(() => {
    const m = new Map<string, SplitName>();
    if (snapshotId && manifest.data) for (const it of manifest.data.items) m.set(it.sampleId, it.split);
    return m;
  }, [snapshotId, manifest.data]);
  const pages = useSamplePages(project.id, status, source);

  const shown = pages.items.filter((s) => {
    if (klass) {
      const c = s.label?.content;
      if (!c || !(c.classes.includes(klass) || c.objects.some((o) => o.label === klass))) return false;
    }
    if (split && splitOf.get(s.id) !== split) return false;
    return true;
  });
  const snapshot = snapshots.data?.items.find((s) => s.id === snapshotId) ?? null;

  return (
    <div className="stack">
      <section className="card filters" aria-label="Filters">
        <Field label="Class">
          {(id) => (
            <select id={id} value={klass} onChange={(e) => set("class", e.target.value)}>
              <option value="">any</option>
              {project.labels.map((l) => (
                <option key={l}>{l}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Status">
          {(id) => (
            <select id={id} value={status} onChange={(e) => set("status", e.target.value)}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Source">
          {(id) => (
            <select id={id} value={source} onChange={(e) => set("source", e.target.value)}>
              <option value="">any</option>
              {SOURCES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Snapshot">
          {(id) => (
            <select
              id={id}
              title="a snapshot's splits, for the split filter and the per-split charts"
              value={snapshotId}
              onChange={(e) => set("snapshot", e.target.value)}
            >
              <option value="">none</option>
              {snapshots.data?.items.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name ?? s.id.slice(0, 12)} ({s.sampleCount})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Split">
          {(id) => (
            <select id={id} value={split} disabled={!snapshotId} onChange={(e) => set("split", e.target.value)}>
              <option value="">any</option>
              {SPLITS.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
      </section>

      {stats.data ? <DatasetStatsPanel project={project} stats={stats.data} snapshot={snapshot} /> : null}
      {stats.error ? <ErrorState error={stats.error} onRetry={stats.reload} /> : null}
      {manifest.error ? <ErrorState error={manifest.error} /> : null}

      <section className="card" aria-labelledby="ds-samples">
        <header className="card-head">
          <h2 id="ds-samples">
            Samples <Badge>{shown.length}</Badge>
          </h2>
          <span className="muted" role="status">
            {pages.items.length} loaded{pages.done ? "" : ", more available"}
          </span>
        </header>
        {pages.error ? <ErrorState error={pages.error} onRetry={pages.reload} /> : null}
        {pages.loading && pages.items.length === 0 ? (
          <Loading label="Loading samples" />
        ) : shown.length === 0 ? (
          <EmptyState>No sample matches these filters.</EmptyState>
        ) : (
          <div className="ml-thumb-grid" data-testid="sample-grid">
            {shown.map((s) => {
              const sp = splitOf.get(s.id);
              return (
                <SampleThumb
                  key={s.id}
                  sample={s}
                  labels={project.labels}
                  to={`/labeling/${s.id}`}
                  caption={
                    <>
                      <span className="muted">{s.provenance.source}</span>
                      {s.status === "reviewed" ? <Badge tone="success">reviewed</Badge> : null}
                      {sp ? <Badge tone="info">{sp}</Badge> : null}
                    </>
                  }
                />
              );
            })}
          </div>
        )}
        {!pages.done && pages.items.length > 0 ? (
          <div className="row">
            <Button onClick={pages.more} busy={pages.loading}>
              Load more
            </Button>
          </div>
        ) : null}
      </section>
    </div>
  );
}
