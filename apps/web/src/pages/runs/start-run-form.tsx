import { type CreateRun, datasetRoutes, type Project, trainingRoutes } from "@kensa/contracts";
import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router-dom";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { useUser } from "../../auth";
import { Button, Field, useToast } from "../../ui";

const optionalInt = (s: string): number | undefined => (s.trim() === "" ? undefined : Math.round(Number(s)));

/**
 * Starts a training run. Left empty, a field takes the project's training defaults (shown as
 * placeholders), which the hub fills in; "new snapshot" freezes the current labels first.
 */
export function StartRunForm({ project }: { project: Project }) {
  const user = useUser();
  const toast = useToast();
  const navigate = useNavigate();
  const snapshots = useQuery(datasetRoutes.listSnapshots, { params: { id: project.id } });
  const settings = useQuery(trainingRoutes.settings, { params: { id: project.id } });
  const defaults = settings.data?.defaults;
  const [snapshotId, setSnapshotId] = useState("");
  const [epochs, setEpochs] = useState("");
  const [width, setWidth] = useState("");
  const [height, setHeight] = useState("");
  const [batchSize, setBatchSize] = useState("");
  const [quantize, setQuantize] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const w = optionalInt(width);
      const h = optionalInt(height) ?? w;
      const hyper: NonNullable<CreateRun["hyper"]> = {};
      const ep = optionalInt(epochs);
      const bs = optionalInt(batchSize);
      if (ep !== undefined) hyper.epochs = ep;
      if (bs !== undefined) hyper.batchSize = bs;
      if (quantize) hyper.quantize = true;
      const body: CreateRun = {
        by: user.username,
        ...(snapshotId ? { snapshotId } : {}),
        ...(w !== undefined && h !== undefined ? { input: { width: w, height: h, channels: 3 } } : {}),
        ...(Object.keys(hyper).length ? { hyper } : {}),
      };
      const run = await hub.call(trainingRoutes.create, { params: { id: project.id }, body });
      toast.success(`Run ${run.id} queued`);
      navigate(`/runs/${run.id}`);
    } catch (err) {
      toast.error(err, "Starting the run failed");
    } finally {
      setBusy(false);
    }
  };

  const trainable = project.task !== "anomaly";
  return (
    <form className="stack" onSubmit={submit} aria-label="Start a training run">
      <p className="muted">
        {project.name}: {project.task}, labels {project.labels.join(", ")}.
        {trainable ? "" : " Anomaly models are brought in with kensa model push, not trained here."}
      </p>
      <Field label="Snapshot" hint="what to train on; its train/val/test splits are fixed">
        {(id, d) => (
          <select id={id} aria-describedby={d} value={snapshotId} onChange={(e) => setSnapshotId(e.target.value)}>
            <option value="">New snapshot of the current labels</option>
            {snapshots.data?.items.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name ?? s.id.slice(0, 12)} · {s.sampleCount} samples · {new Date(s.createdAt).toLocaleDateString()}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div className="filters">
        <Field label="Epochs" hint="at most; early stopping may end sooner">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="number"
              min={1}
              max={10000}
              inputMode="numeric"
              placeholder={String(defaults?.hyper.epochs ?? 30)}
              value={epochs}
              onChange={(e) => setEpochs(e.target.value)}
            />
          )}
        </Field>
        <Field label="Input width (px)">
          {(id) => (
            <input
              id={id}
              type="number"
              min={16}
              max={4096}
              placeholder={defaults?.input ? String(defaults.input.width) : "auto"}
              value={width}
              onChange={(e) => setWidth(e.target.value)}
            />
          )}
        </Field>
        <Field label="Input height (px)">
          {(id) => (
            <input
              id={id}
              type="number"
              min={16}
              max={4096}
              placeholder={defaults?.input ? String(defaults.input.height) : width || "auto"}
              value={height}
              onChange={(e) => setHeight(e.target.value)}
            />
          )}
        </Field>
        <Field label="Batch size">
          {(id) => (
            <input
              id={id}
              type="number"
              min={1}
              max={4096}
              placeholder={String(defaults?.hyper.batchSize ?? 32)}
              value={batchSize}
              onChange={(e) => setBatchSize(e.target.value)}
            />
          )}
        </Field>
      </div>
      <label className="check">
        <input type="checkbox" checked={quantize} onChange={(e) => setQuantize(e.target.checked)} />
        Also export an int8 model (measured against fp32 by the gate)
      </label>
      <div className="row">
        <Button type="submit" variant="primary" busy={busy} disabled={!trainable}>
          Start run
        </Button>
        {defaults ? (
          <span className="muted">
            trainer {defaults.trainer}, seed {defaults.seed}
          </span>
        ) : null}
      </div>
    </form>
  );
}
