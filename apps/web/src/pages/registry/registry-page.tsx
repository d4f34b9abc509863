import { type ModelDetails, type ModelVersion, registryRoutes } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { useProject } from "../../project";
import { Badge, Card, type Column, DataTable, ErrorState, Loading, Page, TimeAgo } from "../../ui";
import { fmt, metricName } from "./metric-names";
import { modelLabel } from "./model-label";
import { pickEvaluation } from "./pick-evaluation";
import { StageBadge } from "./stage-badge";
import "./registry.css";

/** rows whose details (evaluation, gate) are fetched; older versions show without metrics */
const DETAILED = 40;

/** Details of many models at once, for the list's metric and gate columns. */
function useDetailsOf(ids: readonly string[]): ReadonlyMap<string, ModelDetails> {
  const [map, setMap] = useState<ReadonlyMap<string, ModelDetails>>(new Map());
  const key = ids.slice(0, DETAILED).join(",");
  useEffect(() => {
    let live = true;
    const wanted = key ? key.split(",") : [];
    Promise.allSettled(wanted.map((id) => hub.call(registryRoutes.details, { params: { id } }))).then((all) => {
      if (!live) return;
      const m = new Map<string, ModelDetails>();
      for (const r of all) if (r.status === "fulfilled") m.set(r.value.modelVersionId, r.value);
      setMap(m);
    });
    return () => {
      live = false;
    };
  }, [key]);
  return map;
}

/** Model versions with their stage, headline metrics and gate decision. */
export function RegistryPage() {
  const { project, projects } = useProject();
  const navigate = useNavigate();
  const q = useQuery(registryRoutes.list, { query: { projectId: project?.id } }, { intervalMs: 10_000 });
  const items = [...(q.data?.items ?? [])].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  const details = useDetailsOf(items.map((m) => m.id));
  const nameOf = (id: string) => projects.find((p) => p.id === id)?.name ?? id;

  const columns: Column<ModelVersion>[] = [
    {
      header: "Model",
      cell: (m) => <Link to={`/registry/${m.id}`}>{modelLabel(m)}</Link>,
    },
    { header: "Stage", cell: (m) => <StageBadge model={m} /> },
    { header: "Project", cell: (m) => nameOf(m.projectId), hideOnMobile: true },
    {
      header: "Metrics (test)",
      cell: (m) => {
        const d = details.get(m.id);
        const e = pickEvaluation(d, d?.gate?.snapshotId ?? null);
        if (!e?.metrics) return <span className="muted">–</span>;
        return (
          <span>
            {Object.entries(e.metrics.values)
              .map(([k, v]) => `${metricName(k)} ${fmt(v)}`)
              .join(" · ")}
            <span className="muted"> · p95 {fmt(e.metrics.latency.p95, 1)} ms</span>
          </span>
        );
      },
    },
    {
      header: "Gate",
      cell: (m) => {
        const g = details.get(m.id)?.gate;
        if (!g) return <span className="muted">–</span>;
        const tone = g.decision === "rejected" ? "danger" : g.decision === "auto_approved" ? "success" : "warning";
        const refused = g.reasonCode === "tie" || g.reasonCode === "not_significant";
        return (
          <Badge tone={tone}>{refused ? "refused: no significant improvement" : g.decision.replace("_", " ")}</Badge>
        );
      },
      hideOnMobile: true,
    },
    {
      header: "Source",
      cell: (m) =>
        m.lineage?.runId ? <Link to={`/runs/${m.lineage.runId}`}>run</Link> : <span className="muted">{m.source}</span>,
      hideOnMobile: true,
    },
    { header: "Registered", cell: (m) => <TimeAgo iso={m.createdAt} /> },
  ];

  return (
    <Page title="Model registry" subtitle={project ? project.name : "All projects"}>
      <Card title="Versions">
        {q.error ? <ErrorState error={q.error} onRetry={q.reload} /> : null}
        {!q.data && q.loading ? (
          <Loading />
        ) : (
          <DataTable
            rows={items}
            columns={columns}
            rowKey={(m) => m.id}
            label="Model versions"
            cards
            onRowClick={(m) => navigate(`/registry/${m.id}`)}
            empty="No model version yet: train one under Runs, or push one with kensa model push."
          />
        )}
      </Card>
    </Page>
  );
}
