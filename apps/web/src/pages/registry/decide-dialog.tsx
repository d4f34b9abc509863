import { type Decide, type ModelVersion, registryRoutes } from "@kensa/contracts";
import { type FormEvent, useState } from "react";
import { hub } from "../../api/client";
import { useUser } from "../../auth";
import { Button, Dialog, Field, useToast } from "../../ui";
import { modelLabel } from "./model-label";

export type DecideAction = "approve" | "reject";

/**
 * Approve or reject a model version with a reason, which is kept with the approval (who, when,
 * why) and shown on the model card. Approving may deploy to the project's auto-deploy targets.
 */
export function DecideDialog({
  model,
  action,
  onClose,
  onDone,
}: {
  model: ModelVersion;
  action: DecideAction | null;
  onClose(): void;
  onDone(): void;
}) {
  const user = useUser();
  const toast = useToast();
  const [reason, setReason] = useState("");
  const [deploy, setDeploy] = useState(true);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!action) return;
    setBusy(true);
    try {
      const body: Decide = { by: user.username, reason: reason.trim(), deploy: action === "approve" && deploy };
      await hub.call(registryRoutes[action], { params: { id: model.id }, body });
      toast.success(`${modelLabel(model)} ${action === "approve" ? "approved" : "rejected"}`);
      setReason("");
      onDone();
    } catch (err) {
      toast.error(err, action === "approve" ? "Approving failed" : "Rejecting failed");
    } finally {
      setBusy(false);
    }
  };

  const verb = action === "approve" ? "Approve" : "Reject";
  return (
    <Dialog open={action !== null} title={`${verb} ${modelLabel(model)}`} onClose={onClose}>
      <form className="stack" onSubmit={submit}>
        <Field label="Reason" hint="kept with the decision; auditors read it">
          {(id, d) => (
            <textarea
              id={id}
              aria-describedby={d}
              required
              minLength={1}
              maxLength={2000}
              rows={3}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          )}
        </Field>
        {action === "approve" ? (
          <label className="check">
            <input type="checkbox" checked={deploy} onChange={(e) => setDeploy(e.target.checked)} />
            Deploy to the project's automatic deployment targets, if it has any
          </label>
        ) : null}
        <div className="row">
          <Button onClick={onClose}>Cancel</Button>
          <Button
            type="submit"
            variant={action === "approve" ? "success" : "danger"}
            busy={busy}
            disabled={!reason.trim()}
          >
            {verb}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
