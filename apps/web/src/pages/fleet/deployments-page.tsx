import { type Deployment, type Device, fleetRoutes } from "@kensa/contracts";
import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { useProject } from "../../project";
import { Badge, Card, EmptyState, ErrorState, Loading, Page, TimeAgo, type Tone } from "../../ui";
import { type ConvergenceState, convergenceOf } from "./convergence";
import { DeployForm } from "./deploy-form";
import { shortSha } from "./device-status";
import { useDevices } from "./use-devices";
import { useModels } from "./use-model-names";

/** ms between device polls while watching a rollout converge */
const WATCH_MS = 2000;

export function DeploymentsPage() {
  const { project } = useProject();
  const canDeploy = useCan("deployments:manage");
  const deployments = useQuery(fleetRoutes.listDeployments, { query: { projectId: project?.id } });
  const devices = useDevices(project?.id, WATCH_MS);
  const { models, names } = useModels(project?.id);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const sorted = useMemo(
    () => [...(deployments.data?.items ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    [deployments.data],
  );
  const selected = sorted.find((d) => d.id === selectedId) ?? sorted[0] ?? null;

  return (
    <Page title="Deployments" subtitle="Assign a model version to devices and watch them converge">
      {canDeploy ? (
        <DeployForm
          models={models}
          devices={devices.data?.items ?? []}
          onDeployed={(dep) => {
            deployments.setData((prev) => ({ items: [dep, ...(prev?.items ?? [])] }));
            setSelectedId(dep.id);
          }}
        />
      ) : null}
      {deployments.error && !deployments.data ? (
        <ErrorState error={deployments.error} onRetry={deployments.reload} />
      ) : !deployments.data ? (
        <Loading label="Loading deployments" />
      ) : sorted.length === 0 ? (
        <EmptyState>No deployment yet.</EmptyState>
      ) : (
        <div className="grid-2">
          {selected ? (
            <RolloutStatus
              dep={selected}
              devices={devices.data?.items ?? []}
              later={sorted.filter((d) => d.createdAt > selected.createdAt)}
              modelName={names.get(selected.modelVersionId)}
            />
          ) : null}
          <Card title="History">
            <ul className="dep-list" aria-label="Deployments">
              {sorted.map((d) => (
                <li key={d.id}>
                  <button
                    type="button"
                    className={d.id === selected?.id ? "dep-item on" : "dep-item"}
                    aria-pressed={d.id === selected?.id}
                    onClick={() => setSelectedId(d.id)}
                  >
                    <strong>{names.get(d.modelVersionId) ?? d.modelVersionId}</strong>
                    <span className="muted">
                      {targetText(d)} · {d.deviceIds.length} device{d.deviceIds.length === 1 ? "" : "s"} ·{" "}
                      <TimeAgo iso={d.createdAt} />
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </Card>
        </div>
      )}
    </Page>
  );
}

const stateTone: Record<ConvergenceState, Tone> = {
  pending: "neutral",
  loading: "info",
  loaded: "success",
  error: "danger",
  superseded: "warning",
};

function RolloutStatus(props: {
  dep: Deployment;
  devices: readonly Device[];
  later: readonly Deployment[];
  modelName?: string;
}) {
  const { dep } = props;
  const rows = convergenceOf(dep, props.devices, props.later);
  const loaded = rows.filter((r) => r.state === "loaded").length;
  const failed = rows.filter((r) => r.state === "error").length;
  return (
    <Card title="Rollout">
      <p className="rollout-head">
        <strong>{props.modelName ?? dep.modelVersionId}</strong> → {targetText(dep)} · pipeline {dep.pipeline} · bundle{" "}
        <span className="mono" title={dep.bundleSha256}>
          {shortSha(dep.bundleSha256)}
        </span>
      </p>
      <div
        className="progress"
        role="progressbar"
        aria-label="Devices converged"
        aria-valuemin={0}
        aria-valuemax={rows.length}
        aria-valuenow={loaded}
      >
        <span style={{ width: `${rows.length ? (100 * loaded) / rows.length : 0}%` }} />
      </div>
      <p className="muted" aria-live="polite" data-testid="rollout-summary" data-deployment={dep.id}>
        {loaded} of {rows.length} loaded{failed ? ` · ${failed} failed` : ""}
      </p>
      <ul className="converge-list" aria-label="Devices in this rollout">
        {rows.map((r) => (
          <li key={r.deviceId} data-device={r.deviceId} data-state={r.state}>
            <Link to={`/fleet/${r.deviceId}`}>{r.deviceId}</Link>
            {!r.online ? <Badge tone="danger">offline</Badge> : null}
            <Badge tone={stateTone[r.state]} title={r.message}>
              {r.state === "error" ? `error ${r.code}` : r.state}
            </Badge>
            {r.state === "loaded" ? <span className="mono muted">{shortSha(r.reportedSha ?? "")}</span> : null}
            {r.state === "error" && r.message ? <span className="muted converge-msg">{r.message}</span> : null}
          </li>
        ))}
      </ul>
    </Card>
  );
}

function targetText(d: Deployment): string {
  const parts = [
    ...d.target.tags.map((t) => `tag ${t}`),
    ...(d.target.deviceIds.length ? [d.target.deviceIds.join(", ")] : []),
  ];
  return parts.join(" + ") || "—";
}
