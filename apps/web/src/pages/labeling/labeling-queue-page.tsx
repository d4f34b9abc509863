import { datasetRoutes, type LabelingQueue, type Project } from "@kensa/contracts";
import { useQuery } from "../../api/use-query";
import { ProjectGate } from "../../project-gate";
import { Badge, EmptyState, ErrorState, Loading, Page } from "../../ui";
import { SampleThumb } from "./sample-thumb";
import "./labeling.css";

const TITLES: Record<LabelingQueue["groups"][number]["key"], string> = {
  positives: "Positives",
  false_positives: "False positives",
  uncertain: "Uncertain captures",
  unlabeled: "Imports and uploads",
};

/** What to label next in the chosen project, grouped and ordered as the hub ranks it. */
export function LabelingQueuePage() {
  return (
    <Page title="Labeling" subtitle="Verdicts, uncertain captures and imports waiting for a person">
      <ProjectGate>{(p) => <Queue project={p} />}</ProjectGate>
    </Page>
  );
}

function Queue({ project }: { project: Project }) {
  const q = useQuery(
    datasetRoutes.labelingQueue,
    { params: { id: project.id }, query: { limit: 60 } },
    { intervalMs: 15_000 },
  );
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} />;
  if (!q.data) return <Loading label="Loading the queue" />;
  if (q.data.total === 0) return <EmptyState>Nothing to label in {project.name}: every sample is reviewed.</EmptyState>;
  return (
    <div className="stack">
      <p className="muted" role="status">
        {q.data.total} sample(s) waiting. Open one and press <kbd>?</kbd> for the keyboard shortcuts.
      </p>
      {q.data.groups.map((g) => (
        <section key={g.key} className="card" aria-labelledby={`queue-${g.key}`} data-testid={`queue-${g.key}`}>
          <header className="card-head">
            <h2 id={`queue-${g.key}`}>
              {TITLES[g.key]} <Badge tone={g.count ? "info" : "neutral"}>{g.count}</Badge>
            </h2>
          </header>
          <p className="muted">{g.description}</p>
          {g.items.length ? (
            <div className="ml-thumb-grid">
              {g.items.map((s) => (
                <SampleThumb
                  key={s.id}
                  sample={s}
                  labels={project.labels}
                  to={`/labeling/${s.id}`}
                  caption={
                    s.provenance.prediction ? (
                      <span className="muted">
                        model: {s.provenance.prediction.label} {s.provenance.prediction.score.toFixed(2)}
                      </span>
                    ) : null
                  }
                />
              ))}
              {g.count > g.items.length ? (
                <p className="muted">and {g.count - g.items.length} more once these are reviewed</p>
              ) : null}
            </div>
          ) : (
            <p className="muted">None.</p>
          )}
        </section>
      ))}
    </div>
  );
}
