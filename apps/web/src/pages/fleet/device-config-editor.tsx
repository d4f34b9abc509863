import { ApiError } from "@kensa/client";
import { type DeviceConfigView, deviceConfigRoutes } from "@kensa/contracts";
import { useState } from "react";
import { describeError, hub } from "../../api/client";
import { Button, Dialog, Field, useToast } from "../../ui";

interface Refusal {
  code: string;
  message: string;
  issues: Array<{ path: string; message: string }>;
}

/**
 * "Edit config" for people with devices:manage: the device's own config as JSON (merged over the
 * project default by the hub), saved as a new revision. The hub's refusal shows its key paths.
 */
export function DeviceConfigEditor({ view, onSaved }: { view: DeviceConfigView; onSaved(v: DeviceConfigView): void }) {
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);

  const start = () => {
    setText(JSON.stringify(view.device?.config ?? {}, null, 2));
    setComment("");
    setRefusal(null);
    setOpen(true);
  };
  const save = async () => {
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (err) {
      setRefusal({ code: "KENSA_ERR_CLIENT", message: `not JSON: ${(err as Error).message}`, issues: [] });
      return;
    }
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      setRefusal({ code: "KENSA_ERR_CLIENT", message: "a device config is a JSON object", issues: [] });
      return;
    }
    setBusy(true);
    try {
      const saved = await hub.call(deviceConfigRoutes.setDeviceConfig, {
        params: { id: view.deviceId },
        body: { config: config as Record<string, unknown>, ...(comment ? { comment } : {}) },
      });
      onSaved(saved);
      setOpen(false);
      toast.success(`Config rev ${saved.device?.rev} saved; the device is sent rev ${saved.delivered?.rev}`);
    } catch (err) {
      const issues = err instanceof ApiError ? ((err.details as { issues?: Refusal["issues"] })?.issues ?? []) : [];
      setRefusal({ ...describeError(err), issues });
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Button onClick={start}>Edit config</Button>
      <Dialog
        open={open}
        title={`Config of ${view.deviceId}`}
        onClose={() => (busy ? undefined : setOpen(false))}
        actions={
          <>
            <Button onClick={() => setOpen(false)} disabled={busy}>
              Cancel
            </Button>
            <Button variant="primary" busy={busy} onClick={save}>
              Save as a new revision
            </Button>
          </>
        }
      >
        <div className="stack">
          <Field
            label="Device config (JSON)"
            hint="Keys of agent.json the hub may set; merged over the project default"
          >
            {(id, describedBy) => (
              <textarea
                id={id}
                aria-describedby={describedBy}
                className="mono"
                rows={16}
                spellCheck={false}
                value={text}
                onChange={(e) => setText(e.target.value)}
              />
            )}
          </Field>
          <Field label="Why (optional)">
            {(id) => <input id={id} maxLength={500} value={comment} onChange={(e) => setComment(e.target.value)} />}
          </Field>
          {refusal ? (
            <div role="alert" data-testid="device-config-refusal">
              <strong>{refusal.code}</strong>: {refusal.message}
              {refusal.issues.length ? (
                <ul>
                  {refusal.issues.map((i) => (
                    <li key={`${i.path}:${i.message}`}>
                      <span className="mono">{i.path}</span>: {i.message}
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : null}
        </div>
      </Dialog>
    </>
  );
}
