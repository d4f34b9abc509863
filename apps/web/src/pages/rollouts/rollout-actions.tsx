import { type Rollout, type RolloutState, rolloutRoutes } from "@kensa/contracts";
import { useState } from "react";
import { hub } from "../../api/client";
import { useCan } from "../../auth";
import { Button, Field, useToast } from "../../ui";
import { ConfirmDialog } from "../../ui/confirm-dialog";
import { plural } from "./rollout-format";

type Action = "pause" | "resume" | "promote" | "rollback" | "abort";

const ROUTES = {
  pause: rolloutRoutes.pauseRollout,
  resume: rolloutRoutes.resumeRollout,
  promote: rolloutRoutes.promoteRollout,
  rollback: rolloutRoutes.rollbackRollout,
  abort: rolloutRoutes.abortRollout,
} as const;

/** Which actions a state allows; the hub checks again and answers KENSA_ERR_ROLLOUT_STATE otherwise. */
const ALLOWED: Record<Action, readonly RolloutState[]> = {
  pause: ["running"],
  resume: ["planned", "paused"],
  promote: ["running", "paused"],
  rollback: ["running", "paused"],
  abort: ["running", "paused", "planned"],
};

const DONE: Record<Action, string> = {
  pause: "Paused: its devices keep what they run",
  resume: "Running again",
  promote: "Wave passed by hand",
  rollback: "Rolled back: its devices return to the bundle they ran before",
  abort: "Aborted: no further wave starts",
};

/**
 * Pause, resume, promote, roll back and abort, for people with deployments:manage, each shown
 * only in the states that allow it. Promote, roll back and abort ask first and take a reason
 * for the audit; pause and resume are quick and reversible, so they act at once.
 */
export function RolloutActions({ rollout, onChanged }: { rollout: Rollout; onChanged(r: Rollout): void }) {
  const canManage = useCan("deployments:manage");
  const toast = useToast();
  const [busy, setBusy] = useState<Action | null>(null);
  const [confirming, setConfirming] = useState<"promote" | "rollback" | "abort" | null>(null);
  const [reason, setReason] = useState("");
  if (!canManage) return null;
  const allowed = (a: Action) => ALLOWED[a].includes(rollout.state);

  const call = async (action: Action) => {
    const r = await hub.call(ROUTES[action], {
      params: { id: rollout.id },
      body: reason.trim() ? { reason: reason.trim() } : {},
    });
    onChanged(r);
    toast.success(DONE[action]);
  };
  const quick = async (action: "pause" | "resume") => {
    setBusy(action);
    try {
      await call(action);
    } catch (err) {
      toast.error(err, action === "pause" ? "Pause refused" : "Resume refused");
    } finally {
      setBusy(null);
    }
  };
  const ask = (action: "promote" | "rollback" | "abort") => {
    setReason("");
    setConfirming(action);
  };
  const close = () => setConfirming(null);
  const reached = rollout.waves.filter((w) => w.startedAt !== null).flatMap((w) => w.deviceIds).length;
  const wave = rollout.waves[rollout.currentWave];
  const reasonField = (
    <Field label="Reason (kept in the rollout's history and the audit log)">
      {(id) => <textarea id={id} rows={2} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />}
    </Field>
  );

  return (
    <>
      {allowed("pause") ? (
        <Button busy={busy === "pause"} onClick={() => quick("pause")}>
          Pause
        </Button>
      ) : null}
      {allowed("resume") ? (
        <Button variant="primary" busy={busy === "resume"} onClick={() => quick("resume")}>
          {rollout.state === "planned" ? "Start" : "Resume"}
        </Button>
      ) : null}
      {allowed("promote") ? <Button onClick={() => ask("promote")}>Promote</Button> : null}
      {allowed("rollback") ? (
        <Button variant="danger" onClick={() => ask("rollback")}>
          Roll back
        </Button>
      ) : null}
      {allowed("abort") ? (
        <Button variant="danger" onClick={() => ask("abort")}>
          Abort
        </Button>
      ) : null}

      <ConfirmDialog
        open={confirming === "promote"}
        title="Promote the current wave?"
        confirmLabel="Promote wave"
        variant="primary"
        onConfirm={() => call("promote")}
        onClose={close}
      >
        <p>
          {wave ? `${wave.index === 0 ? "The canary" : `Wave ${wave.index + 1}`} passes` : "The current wave passes"} as
          if its gates had, whatever they show now, and the next wave starts. This is your decision, recorded under your
          name.
        </p>
        {reasonField}
      </ConfirmDialog>

      <ConfirmDialog
        open={confirming === "rollback"}
        title="Roll back this rollout?"
        confirmLabel="Roll back"
        onConfirm={() => call("rollback")}
        onClose={close}
      >
        <p>
          {reached === 1
            ? "The device this rollout reached goes back to the bundle it ran before, from its own cache,"
            : `The ${plural(reached, "device")} this rollout reached go back to the bundle they ran before, from their own cache,`}{" "}
          and the rollout ends. It cannot be resumed: start a new rollout to try again.
        </p>
        {reasonField}
      </ConfirmDialog>

      <ConfirmDialog
        open={confirming === "abort"}
        title="Abort this rollout?"
        confirmLabel="Abort rollout"
        onConfirm={() => call("abort")}
        onClose={close}
      >
        <p>
          The rollout ends where it stands:{" "}
          {reached === 1
            ? "the device it reached keeps what it runs"
            : `the ${plural(reached, "device")} it reached keep what they run`}{" "}
          now and no further wave starts. Roll back instead to return {reached === 1 ? "it" : "them"} to the bundle{" "}
          {reached === 1 ? "it" : "they"} ran before.
        </p>
        {reasonField}
      </ConfirmDialog>
    </>
  );
}
