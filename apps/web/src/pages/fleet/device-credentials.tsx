import { type Device, type EnrolledDevice, fleetRoutes } from "@kensa/contracts";
import { useState } from "react";
import { hub } from "../../api/client";
import { Button, CopyField, Dialog, useToast } from "../../ui";
import { ConfirmDialog } from "../../ui/confirm-dialog";

type Action = "rotate" | "revoke";

/**
 * "Rotate secret" and "Revoke" for people with devices:manage, each behind a confirmation that
 * says what happens. A rotated secret lives in this component's state only: closing its dialog
 * or leaving the page drops it, and the hub keeps nothing but a hash.
 */
export function CredentialActions({ device, onChanged }: { device: Device; onChanged(d: Device): void }) {
  const toast = useToast();
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [rotated, setRotated] = useState<EnrolledDevice | null>(null);
  const name = device.name || device.id;
  const close = () => setConfirming(null);
  const params = { id: device.id };

  const rotate = async () => {
    const reply = await hub.call(fleetRoutes.rotateSecret, { params });
    onChanged(reply.device);
    // closed in the same render that opens the secret, so two modals are never stacked
    setConfirming(null);
    setRotated(reply);
  };
  const revoke = async () => {
    onChanged(await hub.call(fleetRoutes.revoke, { params }));
    toast.success(`Revoked ${name}: it is disconnected and its secret refused`);
  };

  return (
    <>
      <Button onClick={() => setConfirming("rotate")}>Rotate secret</Button>
      {device.revokedAt ? null : (
        <Button variant="danger" onClick={() => setConfirming("revoke")}>
          Revoke
        </Button>
      )}

      <ConfirmDialog
        open={confirming === "rotate"}
        title={`Rotate the secret of ${name}?`}
        confirmLabel="Rotate secret"
        variant="primary"
        onConfirm={rotate}
        onClose={close}
      >
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
      </ConfirmDialog>

      <ConfirmDialog
        open={confirming === "revoke"}
        title={`Revoke ${name}?`}
        confirmLabel="Revoke device"
        onConfirm={revoke}
        onClose={close}
      >
        <p>
          <strong>{device.id}</strong> is disconnected at once and its secret is refused from now on: it can neither
          connect nor fetch models. Its events and incidents stay.
        </p>
        <p>A revoked device comes back only by rotating its secret and giving the agent the new one.</p>
      </ConfirmDialog>

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
