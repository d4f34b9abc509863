import { type Rollout, rolloutRoutes } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { Badge, Card, ErrorState, Facts, Loading, Page, TimeAgo } from "../../ui";
import { useModels } from "../fleet/use-model-names";
import { GateEvidence } from "./gate-evidence";
import { RolloutActions } from "./rollout-actions";
import {
  GATE_LABEL,
  isFinished,
  plural,
  STATE_LABEL,
  STATE_TONE,
  strategyText,
  targetText,
  waveText,
} from "./rollout-format";
import { WaveTimeline } from "./wave-timeline";
import "./rollouts.css";

/** ms between polls while the waves move; a bake is minutes to hours, the gates are judged every few seconds */
const RUNNING_POLL_MS = 3000;
/** ms between polls of a planned or paused rollout: it changes only when someone acts, maybe elsewhere */
const IDLE_POLL_MS = 15_000;

/** One rollout: its state and why, the wave timeline, each gate's evidence, the history and the actions. */
export function RolloutPage() {
  const { id = "" } = useParams();
  const [state, setState] = useState<Rollout["state"] | null>(null);
  const interval = !state || isFinished(state) ? undefined : state === "running" ? RUNNING_POLL_MS : IDLE_POLL_MS;
  const q = useQuery(rolloutRoutes.getRollout, { params: { id } }, { intervalMs: interval });
  const current = q.data?.id === id ? q.data : undefined;
  useEffect(() => setState(current?.state ?? null), [current?.state]);

  if (q.error && !current) {
    return (
      <Page title="Rollout" back={<Link to="/rollouts">← Rollouts</Link>}>
        <ErrorState error={q.error} onRetry={q.reload} />
      </Page>
    );
  }
  if (!current) return <Loading label="Loading the rollout" />;
  return <RolloutView rollout={current} onChanged={(r) => q.setData(r)} />;
}

function RolloutView({ rollout: r, onChanged }: { rollout: Rollout; onChanged(r: Rollout): void }) {
  const { names } = useModels(r.projectId);
  const [picked, setPicked] = useState<number | null>(null);
  const selected = picked ?? Math.min(r.currentWave, Math.max(0, r.waves.length - 1));
  const wave = r.waves[selected];
  const name = (id: string | null) => (id ? (names.get(id) ?? id) : "nothing");
  const devices = r.waves.reduce((n, w) => n + w.deviceIds.length, 0);

  return (
    <Page
      title={`Rollout of ${name(r.modelVersionId)}`}
      back={<Link to="/rollouts">← Rollouts</Link>}
      subtitle={
        <span className="row">
          <span data-testid="rollout-state" data-state={r.state}>
            <Badge tone={STATE_TONE[r.state]}>{STATE_LABEL[r.state]}</Badge>
          </span>
          <Badge tone={r.mode === "shadow" ? "info" : "neutral"}>{r.mode}</Badge>
          <span>
            {waveText(r)} · {plural(devices, "device")}
          </span>
        </span>
      }
      actions={<RolloutActions rollout={r} onChanged={onChanged} />}
    >
      {/* the reason belongs to a stop: a running rollout may still carry the words of its last resume */}
      {r.reason && (r.state === "paused" || r.state === "rolled_back" || r.state === "aborted") ? (
        <p className={r.state === "paused" ? "notice" : "rollout-reason"} role="status" data-testid="rollout-reason">
          {r.reason}
        </p>
      ) : null}
      <Card title="Rollout">
        <Facts
          items={[
            [
              "Model",
              <Link key="m" to={`/registry/${r.modelVersionId}`}>
                {name(r.modelVersionId)}
              </Link>,
            ],
            [
              "Replaces",
              r.championModelVersionId ? (
                <Link key="c" to={`/registry/${r.championModelVersionId}`}>
                  {name(r.championModelVersionId)}
                </Link>
              ) : (
                "nothing (no model ran there)"
              ),
            ],
            ["Mode", r.mode === "shadow" ? "shadow: runs beside the champion, raises no incident" : "deploy"],
            ["Target", targetText(r.target)],
            ["Pipeline", `${r.pipeline} · ${r.precision}`],
            ["Strategy", strategyText(r.strategy)],
            ["Auto rollback", r.gates.autoRollback ? "on a breached gate" : "off: a breach only pauses"],
            // what was deliberately not checked, so nobody reads a missing gate as a passed one
            [
              "Gates left out",
              r.gates.disabled.length ? r.gates.disabled.map((g) => GATE_LABEL[g]).join(", ") : "none",
            ],
            [
              "Created",
              <span key="c">
                by {r.createdBy} <TimeAgo iso={r.createdAt} />
              </span>,
            ],
          ]}
        />
      </Card>
      <div className="grid-2 rollout-grid">
        <Card title="Waves">
          {r.waves.length === 0 ? (
            <p className="muted">No wave: the target had no device.</p>
          ) : (
            <WaveTimeline rollout={r} selected={selected} onSelect={setPicked} />
          )}
        </Card>
        <Card title={wave ? `Gates of ${wave.index === 0 ? "the canary" : `wave ${wave.index + 1}`}` : "Gates"}>
          {wave ? <GateEvidence wave={wave} /> : <p className="muted">No wave, no gate.</p>}
        </Card>
      </div>
      <Card title="History">
        <ol className="rollout-history" aria-label="History">
          {[...r.history].reverse().map((t) => (
            <li key={`${t.at}-${t.to}-${t.by}`}>
              <span className="row">
                <Badge tone={STATE_TONE[t.to]}>{STATE_LABEL[t.to]}</Badge>
                <span className="muted">
                  {t.from ? `from ${STATE_LABEL[t.from]} · ` : ""}
                  {t.by === "hub" ? "the hub" : t.by} · <TimeAgo iso={t.at} />
                </span>
              </span>
              {t.reason ? <span className="history-reason">{t.reason}</span> : null}
            </li>
          ))}
        </ol>
      </Card>
    </Page>
  );
}
