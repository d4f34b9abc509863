import {
  federationRoutes,
  type Site,
  type SiteRollout,
  type SiteRolloutAction,
  type SiteRolloutState,
} from "@kensa/contracts";
import { useState } from "react";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { Badge, Button, Card, type Column, DataTable, ErrorState, Field, TimeAgo, type Tone, useToast } from "../../ui";
import { ConfirmDialog } from "../../ui/confirm-dialog";
import { STATE_LABEL, STATE_TONE, targetText } from "../rollouts/rollout-format";

/** ms between polls: a command shows its answer after the site's next sync */
const POLL_MS = 5_000;

const ROUTES = {
  pause: federationRoutes.pauseSiteRollout,
  resume: federationRoutes.resumeSiteRollout,
  rollback: federationRoutes.rollbackSiteRollout,
} as const;

const SENT: Record<SiteRolloutAction, string> = {
  pause: "Pause sent: the site applies it on its next sync",
  resume: "Resume sent: the site applies it on its next sync",
  rollback: "Roll back sent: the site applies it on its next sync",
};

function stateOf(s: SiteRolloutState): { tone: Tone; text: string } {
  if (s === "requested") return { tone: "neutral", text: "requested" };
  if (s === "failed") return { tone: "danger", text: "failed on the site" };
  return { tone: STATE_TONE[s], text: STATE_LABEL[s] };
}

/** central's latest command to the rollout, and whether the site applied it */
function lastCommand(r: SiteRollout) {
  const c = r.commands.at(-1);
  if (!c) return <span className="muted">—</span>;
  const tone: Tone = c.state === "applied" ? "success" : c.state === "refused" ? "danger" : "neutral";
  return (
    <div>
      {c.action} <Badge tone={tone}>{c.state}</Badge>
      <div className="muted">
        {c.createdBy} · <TimeAgo iso={c.createdAt} />
      </div>
      {c.error ? <div className="muted mono">{c.error.code}</div> : null}
    </div>
  );
}

/**
 * On a central hub: the rollouts asked of one site, each with the state the site last reported,
 * and Pause, Resume and Roll back for people with deployments:manage. Central's view may lag the
 * site's by a sync, so the buttons follow the state shown and the site has the last word: a
 * command it cannot apply comes back refused with its code.
 */
export function SiteRollouts({ site }: { site: Site }) {
  const q = useQuery(federationRoutes.listSiteRollouts, { params: { id: site.id } }, { intervalMs: POLL_MS });
  if (q.error && !q.data) return <ErrorState error={q.error} onRetry={q.reload} />;
  if (!q.data || q.data.items.length === 0) return null;
  return (
    <Card title={`Rollouts at ${site.name}`}>
      <DataTable
        label={`Rollouts at ${site.name}`}
        rows={q.data.items}
        rowKey={(r) => r.id}
        columns={columns(q.reload)}
        cards
      />
    </Card>
  );
}

function columns(reload: () => void): Array<Column<SiteRollout>> {
  return [
    {
      header: "Rollout",
      cell: (r) => (
        <div data-site-rollout={r.id}>
          <span className="mono">{r.id}</span>
          <div className="muted mono">{r.modelVersionId}</div>
        </div>
      ),
    },
    { header: "Target", hideOnMobile: true, cell: (r) => targetText(r.target) },
    {
      header: "State",
      cell: (r) => {
        const s = stateOf(r.state);
        return (
          <div>
            <Badge tone={s.tone}>{s.text}</Badge>
            {r.waves.length ? (
              <span className="muted">
                {" "}
                · wave {Math.min(r.currentWave, r.waves.length - 1) + 1} of {r.waves.length}
              </span>
            ) : null}
            {r.error || r.reason ? <div className="muted">{r.error?.code ?? r.reason}</div> : null}
          </div>
        );
      },
    },
    { header: "Last command", cell: lastCommand },
    { header: "", align: "end", cell: (r) => <SiteRolloutActions rollout={r} onSent={reload} /> },
  ];
}

/** Pause and Resume act at once (reversible); Roll back asks first and takes a reason. */
function SiteRolloutActions({ rollout, onSent }: { rollout: SiteRollout; onSent(): void }) {
  const canManage = useCan("deployments:manage");
  const toast = useToast();
  const [busy, setBusy] = useState<SiteRolloutAction | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  if (!canManage) return null;
  const s = rollout.state;

  const send = async (action: SiteRolloutAction) => {
    await hub.call(ROUTES[action], {
      params: { id: rollout.siteId, rolloutId: rollout.id },
      body: reason.trim() ? { reason: reason.trim() } : {},
    });
    toast.success(SENT[action]);
    onSent();
  };
  const quick = async (action: "pause" | "resume") => {
    setBusy(action);
    try {
      await send(action);
    } catch (err) {
      toast.error(err, action === "pause" ? "Pause refused" : "Resume refused");
    } finally {
      setBusy(null);
    }
  };
  const reached = rollout.waves.filter((w) => w.startedAt !== null).flatMap((w) => w.deviceIds).length;

  return (
    <div className="row end">
      {s === "running" || s === "requested" ? (
        <Button busy={busy === "pause"} onClick={() => quick("pause")}>
          Pause
        </Button>
      ) : null}
      {s === "paused" ? (
        <Button variant="primary" busy={busy === "resume"} onClick={() => quick("resume")}>
          Resume
        </Button>
      ) : null}
      {s === "running" || s === "paused" || s === "requested" ? (
        <Button
          variant="danger"
          onClick={() => {
            setReason("");
            setConfirming(true);
          }}
        >
          Roll back
        </Button>
      ) : null}
      <ConfirmDialog
        open={confirming}
        title={`Roll back this rollout at site ${rollout.siteId}?`}
        confirmLabel="Roll back"
        onConfirm={() => send("rollback")}
        onClose={() => setConfirming(false)}
      >
        <p>
          On its next sync the site sends the {reached === 1 ? "device" : `${reached} devices`} this rollout reached
          back to what {reached === 1 ? "it" : "they"} ran before, and the rollout ends. It cannot be resumed: ask the
          site for a new rollout to try again.
        </p>
        <Field label="Reason (kept on central, in the site's rollout history and both audit logs)">
          {(id) => (
            <textarea id={id} rows={2} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
          )}
        </Field>
      </ConfirmDialog>
    </div>
  );
}
