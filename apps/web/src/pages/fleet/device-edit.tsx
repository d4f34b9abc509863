import { type Device, fleetRoutes, type UpdatedDevice } from "@kensa/contracts";
import { type FormEvent, useState } from "react";
import { describeError, hub } from "../../api/client";
import { Button, Dialog, Field, useToast } from "../../ui";

/** "line-1, press  dock" → ["dock", "line-1", "press"] */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ].sort();
}

/** What a tag change did, in a sentence (the toast after saving). */
export function appliedText(r: UpdatedDevice): string {
  if (r.device.retiredAt) return `Saved ${r.device.id}; a retired device takes no deployment.`;
  if (r.applied.length === 0) return `Saved ${r.device.id}; no deployment changed.`;
  const each = r.applied.map((a) => `${a.pipeline} → ${a.deploymentId}`).join(", ");
  return `Saved ${r.device.id}; its tags now deploy ${each}.`;
}

/**
 * "Edit" for people with devices:manage: name, description and tags in one dialog. A tag change
 * can move the device to another model (the tag deployments its new tags select): the dialog
 * says so, and the toast after saving names the deployments it took.
 */
export function DeviceEditAction({ device, onChanged }: { device: Device; onChanged(d: Device): void }) {
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState(device.name);
  const [description, setDescription] = useState(device.description ?? "");
  const [tags, setTags] = useState(device.tags.join(", "));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);

  const start = () => {
    setName(device.name);
    setDescription(device.description ?? "");
    setTags(device.tags.join(", "));
    setError(null);
    setOpen(true);
  };
  const close = () => {
    if (!busy) setOpen(false);
  };
  const tagsChanged = parseTags(tags).join(",") !== [...device.tags].sort().join(",");

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = {
        ...(name.trim() && name.trim() !== device.name ? { name: name.trim() } : {}),
        ...(description.trim() !== (device.description ?? "") ? { description: description.trim() || null } : {}),
        ...(tagsChanged ? { tags: parseTags(tags) } : {}),
      };
      const reply = await hub.call(fleetRoutes.update, { params: { id: device.id }, body });
      onChanged(reply.device);
      toast.success(appliedText(reply));
      setOpen(false);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Button onClick={start}>Edit</Button>
      <Dialog open={open} title={`Edit ${device.id}`} onClose={close}>
        <form className="stack" onSubmit={submit} aria-label={`Edit ${device.id}`}>
          <Field label="Name">
            {(fid) => <input id={fid} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Description" hint="Where it is mounted, what it watches.">
            {(fid, d) => (
              <textarea
                id={fid}
                aria-describedby={d}
                value={description}
                maxLength={2000}
                rows={3}
                onChange={(e) => setDescription(e.target.value)}
              />
            )}
          </Field>
          <Field label="Tags" hint="Separated by commas or spaces, e.g. line-1 press">
            {(fid, d) => (
              <input
                id={fid}
                aria-describedby={d}
                value={tags}
                autoCapitalize="none"
                onChange={(e) => setTags(e.target.value)}
              />
            )}
          </Field>
          {tagsChanged && !device.retiredAt ? (
            <p className="notice" role="status">
              Changing tags can change the model this device runs: it takes the latest deployment its new tags select
              (unless a newer deployment targets the device itself). Removing every tag keeps its current model.
            </p>
          ) : null}
          {error ? (
            <p className="form-error" role="alert">
              <code>{error.code}</code> {error.message}
            </p>
          ) : null}
          <div className="row end">
            <Button onClick={close} disabled={busy}>
              Cancel
            </Button>
            <Button type="submit" variant="primary" busy={busy}>
              Save
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}
