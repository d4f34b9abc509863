import { type CreateDeployment, type Deployment, type Device, fleetRoutes, type ModelVersion } from "@kensa/contracts";
import { type FormEvent, useMemo, useState } from "react";
import { hub } from "../../api/client";
import { Button, Card, Field, useToast } from "../../ui";
import { modelName } from "./use-model-names";

/** Assigns a model version's bundle to devices picked by tag or one by one. */
export function DeployForm({
  models,
  devices,
  onDeployed,
}: {
  models: readonly ModelVersion[];
  devices: readonly Device[];
  onDeployed(d: Deployment): void;
}) {
  const toast = useToast();
  const [modelId, setModelId] = useState("");
  const [mode, setMode] = useState<"tags" | "devices">("tags");
  const [tags, setTags] = useState<ReadonlySet<string>>(new Set());
  const [deviceIds, setDeviceIds] = useState<ReadonlySet<string>>(new Set());
  const [pipeline, setPipeline] = useState("default");
  const [busy, setBusy] = useState(false);
  const model = models.find((m) => m.id === modelId) ?? null;
  // only devices of the model's project can run it
  const eligible = useMemo(() => devices.filter((d) => !model || d.projectId === model.projectId), [devices, model]);
  const allTags = useMemo(() => [...new Set(eligible.flatMap((d) => d.tags))].sort(), [eligible]);
  const matched = eligible.filter((d) =>
    mode === "tags" ? d.tags.some((t) => tags.has(t)) : deviceIds.has(d.id),
  ).length;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!model) return;
    const body: CreateDeployment = {
      modelVersionId: model.id,
      pipeline,
      target: mode === "tags" ? { tags: [...tags], deviceIds: [] } : { tags: [], deviceIds: [...deviceIds] },
    };
    setBusy(true);
    try {
      const dep = await hub.call(fleetRoutes.createDeployment, { body });
      toast.success(`Deploying ${modelName(model)} to ${dep.deviceIds.length} device(s)`);
      onDeployed(dep);
    } catch (err) {
      toast.error(err, "Deployment refused");
    } finally {
      setBusy(false);
    }
  };

  const toggle = (set: ReadonlySet<string>, v: string) => {
    const n = new Set(set);
    if (n.has(v)) n.delete(v);
    else n.add(v);
    return n;
  };

  return (
    <Card title="New deployment">
      <form className="stack" onSubmit={submit} aria-label="New deployment">
        <Field label="Model version">
          {(id) => (
            <select id={id} value={modelId} onChange={(e) => setModelId(e.target.value)} required>
              <option value="">Choose a model version…</option>
              {models.map((m) => (
                <option key={m.id} value={m.id}>
                  {modelName(m)} · {m.stage} · {m.manifest.task}
                </option>
              ))}
            </select>
          )}
        </Field>
        <fieldset className="segmented">
          <legend>Target</legend>
          <label className="check">
            <input type="radio" name="mode" checked={mode === "tags"} onChange={() => setMode("tags")} /> By tag
          </label>
          <label className="check">
            <input type="radio" name="mode" checked={mode === "devices"} onChange={() => setMode("devices")} /> Pick
            devices
          </label>
        </fieldset>
        {mode === "tags" ? (
          <fieldset className="choices" aria-label="Tags">
            {allTags.length === 0 ? <p className="muted">No device of this project has a tag.</p> : null}
            {allTags.map((t) => (
              <label key={t} className="check chip">
                <input type="checkbox" checked={tags.has(t)} onChange={() => setTags((s) => toggle(s, t))} /> {t}
              </label>
            ))}
          </fieldset>
        ) : (
          <fieldset className="choices" aria-label="Devices">
            {eligible.map((d) => (
              <label key={d.id} className="check chip">
                <input
                  type="checkbox"
                  checked={deviceIds.has(d.id)}
                  onChange={() => setDeviceIds((s) => toggle(s, d.id))}
                />{" "}
                {d.name || d.id}
              </label>
            ))}
          </fieldset>
        )}
        <Field label="Pipeline" hint="The agent pipeline that runs the model; most devices have only “default”.">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              value={pipeline}
              pattern="^[a-z0-9][a-z0-9-]{0,62}$"
              onChange={(e) => setPipeline(e.target.value)}
            />
          )}
        </Field>
        <div className="row end">
          <span className="muted" aria-live="polite">
            {matched} device{matched === 1 ? "" : "s"} targeted
          </span>
          <Button type="submit" variant="primary" busy={busy} disabled={!model || matched === 0}>
            Deploy
          </Button>
        </div>
      </form>
    </Card>
  );
}
