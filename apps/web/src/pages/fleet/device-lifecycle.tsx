import { type Device, fleetRoutes } from "@kensa/contracts";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { hub } from "../../api/client";
import { Button, useToast } from "../../ui";
import { ConfirmDialog } from "../../ui/confirm-dialog";

type Action = "retire" | "delete";

/** A device may be deleted once retired, or while it has never connected (nothing to keep but its record). */
export function canDelete(d: Device): boolean {
  return d.retiredAt !== null || (d.presence === "never" && d.lastSeenAt === null && d.events.stored === 0);
}

/**
 * "Retire" and "Delete" for people with devices:manage, each behind a confirmation that says
 * what goes and what stays. After a deletion the page goes back to the fleet.
 */
export function LifecycleActions({ device, onChanged }: { device: Device; onChanged(d: Device): void }) {
  const toast = useToast();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState<Action | null>(null);
  const name = device.name || device.id;
  const close = () => setConfirming(null);
  const params = { id: device.id };

  const retire = async () => {
    onChanged(await hub.call(fleetRoutes.retire, { params }));
    toast.success(`Retired ${name}: it is disconnected for good and no longer counts in the fleet`);
  };
  const remove = async () => {
    await hub.call(fleetRoutes.remove, { params });
    toast.success(`Deleted ${name}; its events and incidents stay`);
    navigate("/fleet");
  };

  return (
    <>
      {device.retiredAt ? null : (
        <Button variant="danger" onClick={() => setConfirming("retire")}>
          Retire
        </Button>
      )}
      {canDelete(device) ? (
        <Button variant="danger" onClick={() => setConfirming("delete")}>
          Delete
        </Button>
      ) : null}

      <ConfirmDialog
        open={confirming === "retire"}
        title={`Retire ${name}?`}
        confirmLabel="Retire device"
        onConfirm={retire}
        onClose={close}
      >
        <p>
          <strong>{device.id}</strong> is disconnected now and can never connect again: its secret and client
          certificates are refused, on every hub replica and broker.
        </p>
        <p>
          It leaves the fleet's lists and counts and no deployment targets it any more. Its events, incidents and frames
          stay. Retiring cannot be undone: enroll replacement hardware as a new device.
        </p>
      </ConfirmDialog>

      <ConfirmDialog
        open={confirming === "delete"}
        title={`Delete ${name}?`}
        confirmLabel="Delete device"
        onConfirm={remove}
        onClose={close}
      >
        <p>
          The record of <strong>{device.id}</strong> goes: its credentials, client certificates, tags, reported state
          and latest frame.
        </p>
        <p>
          Its events, incidents and media stay under its id (retention still applies), the audit log keeps what was
          done, and the id is never given to another device.
        </p>
      </ConfirmDialog>
    </>
  );
}
