import { type CreatedSnapshot, type CreateSnapshot, datasetRoutes, type Project } from "@kensa/contracts";
import { type FormEvent, useState } from "react";
import { hub } from "../../api/client";
import { useUser } from "../../auth";
import { Button, Field, useToast } from "../../ui";
import { SPLITS } from "./split-colors";

/**
 * Freezes the project's labeled samples into a snapshot. Same samples, labels and parameters
 * give the same snapshot: the hub then answers with the existing one, which is said so.
 */
export function SnapshotForm({ project, onCreated }: { project: Project; onCreated(s: CreatedSnapshot): void }) {
  const user = useUser();
  const toast = useToast();
  const [name, setName] = useState("");
  const [seed, setSeed] = useState("kensa");
  const [ratios, setRatios] = useState({ train: 0.7, val: 0.15, test: 0.15 });
  const [include, setInclude] = useState<"labeled" | "reviewed">("labeled");
  const [busy, setBusy] = useState(false);
  const sum = ratios.train + ratios.val + ratios.test;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body: CreateSnapshot = {
        seed,
        ratios,
        include,
        groupBucketSec: 3600,
        by: user.username,
        ...(name.trim() ? { name: name.trim() } : {}),
      };
      const snap = await hub.call(datasetRoutes.createSnapshot, { params: { id: project.id }, body });
      toast.success(
        snap.created
          ? `Snapshot ${snap.name ?? snap.id.slice(0, 12)} created: ${snap.sampleCount} samples`
          : `Nothing changed: that is snapshot ${snap.name ?? snap.id.slice(0, 12)} again`,
      );
      onCreated(snap);
    } catch (err) {
      toast.error(err, "Creating the snapshot failed");
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} aria-label="New snapshot">
      <Field label="Name" hint="optional, e.g. 2025-06 retrain">
        {(id, d) => (
          <input id={id} aria-describedby={d} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />
        )}
      </Field>
      <Field label="Seed" hint="the split is a hash of seed and group: keep it to keep splits stable">
        {(id, d) => (
          <input
            id={id}
            aria-describedby={d}
            value={seed}
            required
            maxLength={200}
            onChange={(e) => setSeed(e.target.value)}
          />
        )}
      </Field>
      <fieldset className="ds-ratios">
        <legend>Split ratios{Math.abs(sum - 1) > 1e-9 ? ` (sum ${sum.toFixed(2)}: used as proportions)` : ""}</legend>
        {SPLITS.map((s) => (
          <Field key={s} label={s}>
            {(id) => (
              <input
                id={id}
                type="number"
                min={0}
                max={1}
                step={0.05}
                value={ratios[s]}
                onChange={(e) => setRatios((r) => ({ ...r, [s]: Number(e.target.value) }))}
              />
            )}
          </Field>
        ))}
      </fieldset>
      <Field label="Take">
        {(id) => (
          <select id={id} value={include} onChange={(e) => setInclude(e.target.value as "labeled" | "reviewed")}>
            <option value="labeled">labeled and reviewed samples</option>
            <option value="reviewed">reviewed samples only</option>
          </select>
        )}
      </Field>
      <div className="row">
        <Button type="submit" variant="primary" busy={busy} disabled={sum <= 0}>
          Create snapshot
        </Button>
      </div>
    </form>
  );
}
