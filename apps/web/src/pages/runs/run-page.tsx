import { trainingRoutes } from "@kensa/contracts";
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { hub } from "../../api/client";
import { useCan, useUser } from "../../auth";
import { useProject } from "../../project";
import { Button, Card, Dialog, ErrorState, Facts, Loading, Page, TimeAgo, useToast } from "../../ui";
import { parseRunLog } from "./parse-run-log";
import { RunCurves } from "./run-curves";
import { RunLogView } from "./run-log-view";
import { RunStatusBadge } from "./run-status-badge";
import { isActive, useLiveRun, useRunLog } from "./use-live-run";
import "./runs.css";

function duration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** One training run: live progress, curves, log, data, outcome; cancel while it trains. */
export function RunPage() {
  const { id = "" } = useParams();
  const { run, error, setRun, live } = useLiveRun(id);
  const active = isActive(run);
  const log = useRunLog(id, run === undefined || active);
  const parsed = useMemo(() => parseRunLog(log.text), [log.text]);
  const { projects } = useProject();
  const canManage = useCan("runs:manage");
  const user = useUser();
  const toast = useToast();
  const [confirm, setConfirm] = useState(false);
  const [cancelling, setCancelling] = useState(false);

  if (!run) return error ? <ErrorState error={error} /> : <Loading label="Loading the run" />;
  const project = projects.find((p) => p.id === run.projectId);
  const p = run.progress;

  const cancel = async () => {
    setCancelling(true);
    try {
      setRun(await hub.call(trainingRoutes.cancel, { params: { id: run.id }, body: { by: user.username } }));
      toast.success("Cancelling the run");
      setConfirm(false);
    } catch (err) {
      toast.error(err, "Cancelling failed");
    } finally {
      setCancelling(false);
    }
  };

  return (
    <Page
      title={`Run ${run.id}`}
      subtitle={
        <>
          <RunStatusBadge status={run.status} /> {project?.name ?? run.projectId} · {run.params.task} ·{" "}
          {live === "stream" ? "live" : live === "poll" ? "refreshing every 2 s" : "finished"}
        </>
      }
      back={<Link to="/runs">← Runs</Link>}
      actions={
        canManage && active ? (
          <Button variant="danger" onClick={() => setConfirm(true)}>
            Cancel run
          </Button>
        ) : null
      }
    >
      {run.error ? (
        <div className="state state-error" role="alert">
          <code>{run.error.code}</code> <span>{run.error.message}</span>
          {run.exitCode !== null ? <span className="muted"> (exit code {run.exitCode})</span> : null}
        </div>
      ) : null}
      {run.status === "succeeded" && run.modelVersionId ? (
        <div className="run-outcome" role="status">
          Trained model version{" "}
          <Link to={`/registry/${run.modelVersionId}`} data-testid="run-model-link">
            {run.modelVersionId}
          </Link>
          {run.trainerMetrics
            ? ` · trainer's val ${run.trainerMetrics.primaryMetric} ${run.trainerMetrics.val.toFixed(3)}` +
              (run.trainerMetrics.test !== null ? `, test ${run.trainerMetrics.test.toFixed(3)}` : "") +
              ` (best epoch ${run.trainerMetrics.bestEpoch} of ${run.trainerMetrics.epochsRun})`
            : ""}
          . The gate scores it again on the evaluation snapshot.
        </div>
      ) : null}

      <Card title="Progress">
        {p ? (
          <div className="stack">
            <progress
              className="run-progress"
              max={1}
              value={run.status === "succeeded" ? 1 : p.fraction}
              aria-label="Training progress"
            />
            <Facts
              items={[
                ["epoch", `${p.epoch} / ${p.epochs}`],
                ["step", `${p.step} / ${p.totalSteps}`],
                ["loss", p.loss?.toFixed(4) ?? "–"],
                ["val loss", p.valLoss?.toFixed(4) ?? "–"],
                [`val ${p.primaryMetric ?? "metric"}`, p.valMetric?.toFixed(4) ?? "–"],
                ["elapsed", duration(p.elapsedSec)],
                ["left", active && p.etaSec !== null ? `≤ ${duration(p.etaSec)}` : "–"],
              ]}
            />
          </div>
        ) : (
          <p className="muted">{run.status === "queued" ? "Waiting for a worker." : "No progress reported."}</p>
        )}
      </Card>

      <Card title="Curves">
        <RunCurves log={parsed} />
      </Card>

      <Card title="Log">
        {log.error ? <ErrorState error={log.error} /> : null}
        <RunLogView text={log.text} live={active} />
      </Card>

      <div className="grid-2">
        <Card title="Parameters">
          <Facts
            items={[
              [
                "snapshot",
                <Link to={`/datasets?snapshot=${run.snapshotId}`} className="mono" key="s">
                  {run.snapshotId.slice(0, 12)}
                </Link>,
              ],
              ["input", `${run.params.input.width}×${run.params.input.height}×${run.params.input.channels}`],
              ["epochs", run.params.hyper.epochs ?? "trainer default"],
              ["batch size", run.params.hyper.batchSize ?? "trainer default"],
              ["learning rate", run.params.hyper.lr ?? "trainer default"],
              ["seed", run.params.seed],
              ["trainer", `${run.trainer.name}${run.trainer.version ? ` (${run.trainer.version})` : ""}`],
              [
                "code",
                <span className="mono" key="c">
                  {run.codeRevision.slice(0, 12)}
                </span>,
              ],
            ]}
          />
        </Card>
        <Card title="Data and trigger">
          <Facts
            items={[
              ["train / val / test", run.data ? `${run.data.train} / ${run.data.val} / ${run.data.test}` : "–"],
              ["left out", run.data ? run.data.skipped.length : "–"],
              ["trigger", `${run.trigger.type}: ${run.trigger.detail}`],
              ["by", run.by],
              ["created", <TimeAgo iso={run.createdAt} key="c" />],
              ["finished", run.finishedAt ? <TimeAgo iso={run.finishedAt} key="f" /> : "–"],
            ]}
          />
          {run.data?.skipped.length ? (
            <details>
              <summary>Samples left out</summary>
              <ul>
                {run.data.skipped.map((s) => (
                  <li key={s.sampleId}>
                    <Link to={`/labeling/${s.sampleId}`}>{s.sampleId}</Link>: {s.reason}
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
        </Card>
      </div>

      <Dialog
        open={confirm}
        title="Cancel this run?"
        onClose={() => setConfirm(false)}
        actions={
          <>
            <Button onClick={() => setConfirm(false)}>Keep training</Button>
            <Button variant="danger" busy={cancelling} onClick={() => void cancel()}>
              Cancel run
            </Button>
          </>
        }
      >
        <p>The trainer is stopped and no model version is registered. The log is kept.</p>
      </Dialog>
    </Page>
  );
}
