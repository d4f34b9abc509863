import { type ReactNode, useEffect, useState } from "react";
import { describeError } from "../api/client";
import { Button } from "./button";
import { Dialog } from "./dialog";

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  /** the confirming button's words, naming the action ("Retire device", "Roll back") */
  confirmLabel: string;
  /** "danger" for what cannot be undone */
  variant?: "danger" | "primary";
  /**
   * Runs the action. When it resolves the dialog closes (through `onClose`); when it rejects,
   * the dialog stays open and shows the error with its code, so the person can read it and retry.
   */
  onConfirm: () => Promise<void>;
  onClose: () => void;
  /** what happens, what goes and what stays */
  children: ReactNode;
}

/**
 * "Are you sure?" for actions with consequences: says what happens, runs the action with the
 * confirming button busy, and keeps Cancel, Escape and ✕ from closing it half-way through.
 */
export function ConfirmDialog({
  open,
  title,
  confirmLabel,
  variant = "danger",
  onConfirm,
  onClose,
  children,
}: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  // an error belongs to one attempt: opening the dialog again starts clean
  useEffect(() => {
    if (open) setError(null);
  }, [open]);

  const cancel = () => {
    if (!busy) onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open={open}
      title={title}
      onClose={cancel}
      actions={
        <>
          <Button onClick={cancel} disabled={busy}>
            Cancel
          </Button>
          <Button variant={variant} busy={busy} onClick={confirm}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      <div className="stack">
        {children}
        {error ? (
          <p className="form-error" role="alert">
            <code>{error.code}</code> {error.message}
          </p>
        ) : null}
      </div>
    </Dialog>
  );
}
