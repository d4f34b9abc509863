import { type Device, type EnrolledDevice, fleetRoutes } from "@kensa/contracts";
import { useState } from "react";
import { describeError, hub } from "../../api/client";
import { Button, CopyField, Dialog, useToast } from "../../ui";

type Action = "rotate" | "revoke";

/**
 * "Rotate secret" and "Revoke" for people with devices:manage, each behind a confirmation that
 * says what happens. A rotated secret lives in this component's state only: closing its dialog
 * or leaving the page drops it, and the hub keeps nothing but a hash.
 */
export function CredentialActions({ device, onChanged }: { device: Device; onChanged(d: Device): void }) {
  const toast = useToast();
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [rotated, setRotated] = useState<EnrolledDevice | null>(null);
  const name = device.name || device.id;

  const cancel = () => {
    if (busy) return;
    setConfirming(null);
    setError(null);
  };

  const run = async (action: Action) => {
    setBusy(true);
    setError(null);
    const params = { id: device.id };
    try {
      if (action === "rotate") {
        const reply = await hub.call(fleetRoutes.rotateSecret, { params });
        onChanged(reply.device);
        setRotated(reply);
      } else {
        onChanged(await hub.call(fleetRoutes.revoke, { params }));
        toast.success(`Revoked ${name}: it is disconnected and its secret refused`);
      }
      setConfirming(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Button onClick={() => setConfirming("rotate")}>Rotate secret</Button>
      {device.revokedAt ? null : (
        <Button variant="danger" onClick={() => setConfirming("revoke")}>
          Revoke
        </Button>
      )}

      <Dialog
        open={confirming === "rotate"}
        title={`Rotate the secret of ${name}?`}
        onClose={cancel}
        actions={
          <>
            <Button onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" busy={busy} onClick={() => run("rotate")}>
              Rotate secret
            </Button>
          </>
        }
      >
        <div className="stack">
          <p>
            The hub gives <strong>{device.id}</strong> a new secret. Its current secret stops working and the device is
            disconnected at once.
          </p>
          <p>
            The new secret is shown once, on the next screen. The device stays offline until its agent is given the new
            secret and restarted.
          </p>
          {device.revokedAt ? (
            <p>This also lifts the revocation: the device may connect again with the new secret.</p>
          ) : null}
          <ActionError error={error} />
        </div>
      </Dialog>

      <Dialog
        open={confirming === "revoke"}
        title={`Revoke ${name}?`}
        onClose={cancel}
        actions={
          <>
            <Button onClick={cancel} disabled={busy}>
              Cancel
            </Button>
            <Button variant="danger" busy={busy} onClick={() => run("revoke")}>
              Revoke device
            </Button>
          </>
        }
      >
        <div className="stack">
          <p>
            <strong>{device.id}</strong> is disconnected at once and its secret is refused from now on: it can neither
            connect nor fetch models. Its events and incidents stay.
          </p>
          <p>A revoked device comes back only by rotating its secret and giving the agent the new one.</p>
          <ActionError error={error} />
        </div>
      </Dialog>

      <Dialog
        open={rotated !== null}
        title={`New secret for ${rotated?.device.id ?? name}`}
        onClose={() => setRotated(null)}
        actions={
          <Button variant="primary" onClick={() => setRotated(null)}>
            I copied the secret
          </Button>
        }
      >
        {rotated ? (
          <div className="secret-once">
            <p className="notice" role="status">
              This is the only time the new secret is shown. Copy it now and start the agent with it; rotate again if it
              is lost.
            </p>
            <CopyField label="Device secret" value={rotated.secret} secret />
            <CopyField label="Agent command" value={rotated.command} />
          </div>
        ) : null}
      </Dialog>
    </>
  );
}

function ActionError({ error }: { error: { code: string; message: string } | null }) {
  if (!error) return null;
  return (
    <p className="form-error" role="alert">
      <code>{error.code}</code> {error.message}
    </p>
  );
}
