import { type EnrollDevice, type EnrolledDevice, fleetRoutes } from "@kensa/contracts";
import { type FormEvent, useState } from "react";
import { ApiError, describeError, hub } from "../../api/client";
import { useProject } from "../../project";
import { Button, CopyField, Dialog, Field } from "../../ui";

const ARCHES = ["x64", "arm64", "armv7"] as const satisfies ReadonlyArray<NonNullable<EnrollDevice["arch"]>>;

/**
 * Enrolls a device, then shows its secret and agent command once: the hub stores only a hash
 * of the secret, so closing this dialog is the last chance to copy it.
 */
export function EnrollDialog({ open, onClose, onEnrolled }: { open: boolean; onClose(): void; onEnrolled(): void }) {
  const { projects, project } = useProject();
  const [projectId, setProjectId] = useState(project?.id ?? "");
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [arch, setArch] = useState("");
  const [tags, setTags] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [enrolled, setEnrolled] = useState<EnrolledDevice | null>(null);
  const chosenProject = projectId || project?.id || projects[0]?.id || "";

  const close = () => {
    setEnrolled(null);
    setError(null);
    setId("");
    setName("");
    setTags("");
    onClose();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: EnrollDevice = {
      projectId: chosenProject,
      tags: tags
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter(Boolean),
      ...(id.trim() ? { id: id.trim() } : {}),
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(arch ? { arch: arch as EnrollDevice["arch"] } : {}),
    };
    try {
      setEnrolled(await hub.call(fleetRoutes.enroll, { body }));
      onEnrolled();
    } catch (err) {
      setError(err instanceof ApiError ? { code: err.code, message: err.message } : describeError(err));
    } finally {
      setBusy(false);
    }
  };

  if (enrolled) {
    return (
      <Dialog
        open={open}
        title={`Enrolled ${enrolled.device.id}`}
        onClose={close}
        actions={
          <Button variant="primary" onClick={close}>
            I copied the secret
          </Button>
        }
      >
        <p className="notice" role="status">
          This is the only time the secret is shown. Copy it now; enroll the device again if it is lost.
        </p>
        <CopyField label="Device secret" value={enrolled.secret} secret />
        <CopyField label="Agent command" value={enrolled.command} />
        <CopyField label="Hub URL" value={enrolled.hubUrl} />
        <CopyField label="MQTT URL" value={enrolled.mqttUrl} />
      </Dialog>
    );
  }

  return (
    <Dialog open={open} title="Enroll a device" onClose={close}>
      <form className="stack" onSubmit={submit} aria-label="Enroll a device">
        <Field label="Project">
          {(fid) => (
            <select id={fid} value={chosenProject} onChange={(e) => setProjectId(e.target.value)} required>
              {projects.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Device id" hint="Lower-case letters, digits and dashes; generated when empty.">
          {(fid, d) => (
            <input
              id={fid}
              aria-describedby={d}
              value={id}
              autoCapitalize="none"
              onChange={(e) => setId(e.target.value)}
            />
          )}
        </Field>
        <Field label="Name">{(fid) => <input id={fid} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Architecture">
          {(fid) => (
            <select id={fid} value={arch} onChange={(e) => setArch(e.target.value)}>
              <option value="">Reported by the agent</option>
              {ARCHES.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
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
        {projects.length === 0 ? (
          <p className="form-error" role="alert">
            There is no project to enroll into yet; create one first (<code>kensa project create</code>).
          </p>
        ) : null}
        {error ? (
          <p className="form-error" role="alert">
            <code>{error.code}</code> {error.message}
          </p>
        ) : null}
        <div className="row end">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} disabled={!chosenProject}>
            Enroll
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
