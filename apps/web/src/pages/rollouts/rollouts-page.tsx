import { type Rollout, rolloutRoutes } from "@kensa/contracts";
import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { useProject } from "../../project";
import { Badge, Button, type Column, DataTable, ErrorState, Loading, Page, TimeAgo } from "../../ui";
import type { ModelNames } from "../fleet/device-status";
import { useDevices } from "../fleet/use-devices";
import { useModels } from "../fleet/use-model-names";
import { RolloutForm } from "./rollout-form";
import { STATE_LABEL, STATE_TONE, targetText, waveText } from "./rollout-format";
import "./rollouts.css";

/** ms between polls of the list: states change as waves pass or breach */
const LIST_POLL_MS = 5000;

/**
 * The project's staged rollouts, newest first, and the form that starts one. `?model=<id>`
 * (the registry's "Staged rollout…" action) opens the form with that model version chosen.
 */
export function RolloutsPage() {
  const { project } = useProject();
  const canManage = useCan("deployments:manage");
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const preset = params.get("model");
  const [formOpen, setFormOpen] = useState(preset !== null);
  const rollouts = useQuery(
    rolloutRoutes.listRollouts,
    { query: { projectId: project?.id } },
    { intervalMs: LIST_POLL_MS },
  );
  const { models, names } = useModels(project?.id);
  // only people who may start a rollout need the device list (for targets and canaries)
  const devices = useDevices(project?.id, canManage && formOpen ? 10_000 : 0);
  const items = rollouts.data?.items ?? [];
  const closeForm = () => {
    setFormOpen(false);
    if (preset) setParams({}, { replace: true });
  };

  return (
    <Page
      title="Rollouts"
      subtitle="Model versions going out in waves, each judged on field signals against the champion"
      actions={
        canManage && !formOpen ? (
          <Button variant="primary" onClick={() => setFormOpen(true)}>
            New rollout
          </Button>
        ) : null
      }
    >
      {canManage && formOpen ? (
        <RolloutForm
          models={models}
          devices={devices.data?.items ?? []}
          initialModelId={preset ?? ""}
          onCancel={closeForm}
          onCreated={(r) => navigate(`/rollouts/${r.id}`)}
        />
      ) : null}
      {rollouts.error && !rollouts.data ? (
        <ErrorState error={rollouts.error} onRetry={rollouts.reload} />
      ) : !rollouts.data ? (
        <Loading label="Loading rollouts" />
      ) : (
        <DataTable
          label="Rollouts"
          rows={items}
          rowKey={(r) => r.id}
          columns={columns(names)}
          // one card per rollout on a phone, like the fleet
          cards
          onRowClick={(r) => navigate(`/rollouts/${r.id}`)}
          empty={canManage ? "No rollout yet. Start one with “New rollout”." : "No rollout yet."}
        />
      )}
    </Page>
  );
}

function columns(names: ModelNames): Array<Column<Rollout>> {
  const name = (id: string | null) => (id ? (names.get(id) ?? id) : "nothing");
  return [
    {
      header: "Rollout",
      cell: (r) => (
        <div>
          <Link to={`/rollouts/${r.id}`} onClick={(e) => e.stopPropagation()} data-rollout={r.id}>
            <strong>{name(r.modelVersionId)}</strong>
          </Link>
          <div className="muted">replaces {name(r.championModelVersionId)}</div>
        </div>
      ),
    },
    {
      header: "State",
      cell: (r) => (
        <div className="rollout-state-cell">
          <Badge tone={STATE_TONE[r.state]}>{STATE_LABEL[r.state]}</Badge>
          {r.reason && (r.state === "paused" || r.state === "rolled_back" || r.state === "aborted") ? (
            <span className="muted rollout-list-reason">{r.reason}</span>
          ) : null}
        </div>
      ),
    },
    { header: "Mode", cell: (r) => r.mode },
    { header: "Progress", cell: (r) => waveText(r) },
    { header: "Target", cell: (r) => targetText(r.target), hideOnMobile: true },
    { header: "Created", cell: (r) => <TimeAgo iso={r.createdAt} /> },
  ];
}
