import { type Project, type TrainingRun, trainingRoutes } from "@kensa/contracts";
import { Link, useNavigate } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { useProject } from "../../project";
import { Card, type Column, DataTable, ErrorState, Loading, Page, TimeAgo } from "../../ui";
import { RunStatusBadge } from "./run-status-badge";
import { StartRunForm } from "./start-run-form";
import "./runs.css";

/** Training runs of the chosen project (or all), newest first, and a form to start one. */
export function RunsPage() {
  const { project, projects } = useProject();
  const canManage = useCan("runs:manage");
  const navigate = useNavigate();
  const q = useQuery(trainingRoutes.list, { query: { projectId: project?.id, limit: 100 } }, { intervalMs: 5000 });
  const nameOf = (id: string) => projects.find((p: Project) => p.id === id)?.name ?? id;

  const columns: Column<TrainingRun>[] = [
    {
      header: "Run",
      cell: (r) => (
        <Link to={`/runs/${r.id}`} className="mono">
          {r.id}
        </Link>
      ),
    },
    { header: "Status", cell: (r) => <RunStatusBadge status={r.status} /> },
    { header: "Project", cell: (r) => nameOf(r.projectId), hideOnMobile: true },
    {
      header: "Progress",
      cell: (r) =>
        r.progress ? (
          <span>
            epoch {r.progress.epoch}/{r.progress.epochs}
            {r.progress.valMetric !== null ? ` · ${r.progress.primaryMetric} ${r.progress.valMetric.toFixed(3)}` : ""}
          </span>
        ) : (
          "–"
        ),
    },
    { header: "Trigger", cell: (r) => `${r.trigger.type} (${r.by})`, hideOnMobile: true },
    {
      header: "Model",
      cell: (r) => (r.modelVersionId ? <Link to={`/registry/${r.modelVersionId}`}>{r.modelVersionId}</Link> : "–"),
      hideOnMobile: true,
    },
    { header: "Created", cell: (r) => <TimeAgo iso={r.createdAt} /> },
  ];

  return (
    <Page title="Training runs" subtitle={project ? project.name : "All projects"}>
      {canManage ? (
        <Card title="Start a run">
          {project ? (
            <StartRunForm key={project.id} project={project} />
          ) : (
            <p className="muted">Choose a project in the top bar to start a run.</p>
          )}
        </Card>
      ) : null}
      <Card title="Runs">
        {q.error ? <ErrorState error={q.error} onRetry={q.reload} /> : null}
        {!q.data && q.loading ? (
          <Loading />
        ) : (
          <DataTable
            rows={q.data?.items ?? []}
            columns={columns}
            rowKey={(r) => r.id}
            label="Training runs"
            cards
            onRowClick={(r) => navigate(`/runs/${r.id}`)}
            empty="No run yet."
          />
        )}
      </Card>
    </Page>
  );
}
