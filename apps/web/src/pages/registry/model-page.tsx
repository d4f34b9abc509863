import { type ModelVersion, registryRoutes, trainingRoutes } from "@kensa/contracts";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { useProject } from "../../project";
import { Button, Card, ErrorState, Loading, Page } from "../../ui";
import { parseRunLog } from "../runs/parse-run-log";
import { RunCurves } from "../runs/run-curves";
import { type DecideAction, DecideDialog } from "./decide-dialog";
import { DriftCard } from "./drift-card";
import { GateReportTable } from "./gate-report-table";
import { MetricsCompare } from "./metrics-compare";
import { ModelCardView } from "./model-card-view";
import { modelLabel } from "./model-label";
import { pickEvaluation } from "./pick-evaluation";
import { ShadowAgreementCard } from "./shadow-agreement-card";
import { StageBadge } from "./stage-badge";
import "./registry.css";
import "../runs/runs.css";

/** One model version: gate report, champion vs challenger, evaluation, curves, model card, decisions. */
export function ModelPage() {
  const { id = "" } = useParams();
  const model = useQuery(registryRoutes.get, { params: { id } });
  if (model.error) return <ErrorState error={model.error} onRetry={model.reload} />;
  if (!model.data || model.data.id !== id) return <Loading label="Loading the model" />;
  return <ModelView model={model.data} reloadModel={model.reload} />;
}

function ModelView({ model, reloadModel }: { model: ModelVersion; reloadModel(): void }) {
  const { projects } = useProject();
  const project = projects.find((p) => p.id === model.projectId);
  const canApprove = useCan("models:approve");
  const canDeploy = useCan("deployments:manage");
  const [action, setAction] = useState<DecideAction | null>(null);
  const [gateSeen, setGateSeen] = useState(false);
  // the gate runs after the evaluation: poll until it has reported
  const details = useQuery(
    registryRoutes.details,
    { params: { id: model.id } },
    {
      intervalMs: gateSeen ? undefined : 3000,
    },
  );
  const hasGate = Boolean(details.data?.gate);
  useEffect(() => {
    if (hasGate) setGateSeen(true);
  }, [hasGate]);
  const champion = useQuery(registryRoutes.champion, { params: { id: model.projectId } });
  const gate = details.data?.gate ?? null;
  const championId = gate ? gate.championId : (champion.data?.modelVersionId ?? null);
  const otherId = championId && championId !== model.id ? championId : null;
  const champModel = useQuery(registryRoutes.get, { params: { id: otherId ?? "" } }, { enabled: !!otherId });
  const snapshotId = gate?.snapshotId ?? null;
  const mine = pickEvaluation(details.data, snapshotId);
  const compareOn = snapshotId ?? mine?.snapshotId ?? null;
  // the gate scores the champion on the challenger's snapshot: poll until that evaluation exists
  const [champScored, setChampScored] = useState(false);
  const champDetails = useQuery(
    registryRoutes.details,
    { params: { id: otherId ?? "" } },
    {
      enabled: !!otherId,
      intervalMs: champScored || gate ? undefined : 3000,
    },
  );
  const theirs = otherId ? pickEvaluation(champDetails.data, compareOn, true) : null;
  useEffect(() => {
    if (theirs) setChampScored(true);
  }, [theirs]);
  const gateId = gate?.id;
  const reloadChamp = champDetails.reload;
  // a new gate report means the champion was just scored on its snapshot: read it again
  useEffect(() => {
    if (gateId) reloadChamp();
  }, [gateId, reloadChamp]);
  const runId = model.lineage?.runId ?? null;
  const runLog = useQuery(trainingRoutes.log, { params: { id: runId ?? "" } }, { enabled: !!runId });
  const curves = useMemo(() => parseRunLog(typeof runLog.data === "string" ? runLog.data : ""), [runLog.data]);
  const running = details.data?.evaluations.some((e) => e.status === "queued" || e.status === "running");

  const refresh = () => {
    setAction(null);
    reloadModel();
    details.reload();
    champion.reload();
  };
  const leftTitle = champModel.data ? `champion v${champModel.data.version}` : "champion";
  const rightTitle = `v${model.version}${model.id === championId ? " (champion)" : ""}`;

  return (
    <Page
      title={modelLabel(model)}
      subtitle={
        <>
          <span data-testid="model-stage" data-stage={model.stage}>
            <StageBadge model={model} />
          </span>{" "}
          · {project?.name ?? model.projectId} · {model.manifest.task} ·{" "}
          {runId ? <Link to={`/runs/${runId}`}>run {runId}</Link> : model.source}
        </>
      }
      back={<Link to="/registry">← Registry</Link>}
      actions={
        canApprove || canDeploy ? (
          <>
            {/* approved versions roll out; a candidate only in shadow (the hub enforces both) */}
            {canDeploy && (model.stage === "approved" || model.stage === "candidate") ? (
              <Link className="btn btn-secondary btn-md" to={`/rollouts?model=${encodeURIComponent(model.id)}`}>
                Staged rollout…
              </Link>
            ) : null}
            {canApprove && model.stage !== "approved" && model.stage !== "archived" ? (
              <Button variant="success" onClick={() => setAction("approve")}>
                Approve…
              </Button>
            ) : null}
            {canApprove && model.stage === "candidate" ? (
              <Button variant="danger" onClick={() => setAction("reject")}>
                Reject…
              </Button>
            ) : null}
          </>
        ) : null
      }
    >
      {details.error ? <ErrorState error={details.error} onRetry={details.reload} /> : null}
      <Card title="Gate: challenger against champion">
        {gate ? (
          <GateReportTable report={gate} />
        ) : (
          <p className="muted" role="status">
            {running ? "Evaluating on the frozen snapshot…" : "No gate report yet: it follows the evaluation."}
          </p>
        )}
      </Card>

      <Card title="Champion and challenger, side by side">
        <div className="reg-sides">
          <div>
            <h3>{leftTitle}</h3>
            {otherId && champModel.data ? (
              <p>
                <Link to={`/registry/${otherId}`}>{modelLabel(champModel.data)}</Link>{" "}
                <StageBadge model={champModel.data} />
              </p>
            ) : (
              <p className="muted">No champion: this project has no approved model yet.</p>
            )}
          </div>
          <div>
            <h3>{rightTitle}</h3>
            <p>
              {modelLabel(model)} <StageBadge model={model} />
            </p>
          </div>
        </div>
        {otherId && !theirs && compareOn ? (
          <p className="muted" role="status">
            The champion has no evaluation on snapshot <span className="mono">{compareOn.slice(0, 12)}</span> yet; its
            column stays empty until the gate scores it.
          </p>
        ) : null}
        {mine || theirs ? (
          <MetricsCompare
            left={{ title: leftTitle, evaluation: theirs }}
            right={{ title: rightTitle, evaluation: mine }}
            labels={model.manifest.labels}
          />
        ) : (
          <p className="muted">No finished evaluation yet.</p>
        )}
        {details.data?.evaluations
          .filter((e) => e.status === "failed" && e.error)
          .map((e) => (
            <p key={e.id} className="state state-error" role="alert">
              <code>{e.error?.code}</code> evaluation on {e.snapshotId.slice(0, 12)} failed: {e.error?.message}
            </p>
          ))}
      </Card>

      <ShadowAgreementCard modelId={model.id} projectId={model.projectId} />
      <DriftCard modelId={model.id} />

      {runId ? (
        <Card title="Training curves">
          {runLog.error ? <ErrorState error={runLog.error} /> : <RunCurves log={curves} />}
        </Card>
      ) : null}

      <Card title="Model card">
        <ModelCardView
          key={`${model.stage}:${details.data?.gate?.id ?? ""}:${details.data?.approvals.length ?? 0}`}
          modelId={model.id}
        />
      </Card>

      <DecideDialog model={model} action={action} onClose={() => setAction(null)} onDone={refresh} />
    </Page>
  );
}
