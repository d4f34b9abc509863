import {
  type CreateRollout,
  type Device,
  type ModelVersion,
  type Rollout,
  RolloutGates,
  type RolloutMode,
  RolloutStrategy,
  rolloutRoutes,
} from "@kensa/contracts";
import { type FormEvent, type ReactNode, useEffect, useId, useMemo, useState } from "react";
import { describeError, hub } from "../../api/client";
import { Button, Card, Field, useToast } from "../../ui";
import { modelName } from "../fleet/use-model-names";

// the contract's defaults, so the form starts where the hub would (no second copy of the numbers)
const S = RolloutStrategy.properties;
const G = RolloutGates.properties;
const DEFAULTS = {
  canaryPercent: Number(S.canaryPercent.default),
  factor: Number(S.factor.default),
  bakeMinutes: Number(S.bakeSeconds.default) / 60,
  minFrames: Number(G.minFrames.default),
  maxIncidentRateRatio: Number(G.maxIncidentRateRatio.default),
  autoRollback: Boolean(G.autoRollback.default),
};

type TargetKind = "fleet" | "tags" | "devices";

/**
 * Starts a staged rollout of a model version: which devices, deploy or shadow, the canary, how
 * the waves grow and bake, and the key gates. Only approved versions may be deployed and a
 * candidate only in shadow; the hub enforces it and its coded refusal is shown here.
 */
export function RolloutForm(props: {
  models: readonly ModelVersion[];
  devices: readonly Device[];
  initialModelId: string;
  onCreated(r: Rollout): void;
  onCancel(): void;
}) {
  const toast = useToast();
  // rejected and archived versions can never be rolled out: not offered at all
  const offered = props.models.filter((m) => m.stage === "approved" || m.stage === "candidate");
  const [modelId, setModelId] = useState(props.initialModelId);
  const model = props.models.find((m) => m.id === modelId) ?? null;
  const [mode, setMode] = useState<RolloutMode>("deploy");
  const [kind, setKind] = useState<TargetKind>("fleet");
  const [tags, setTags] = useState<ReadonlySet<string>>(new Set());
  const [deviceIds, setDeviceIds] = useState<ReadonlySet<string>>(new Set());
  const [namedCanary, setNamedCanary] = useState(false);
  const [canaryIds, setCanaryIds] = useState<ReadonlySet<string>>(new Set());
  const [canaryPercent, setCanaryPercent] = useState(DEFAULTS.canaryPercent);
  const [factor, setFactor] = useState(DEFAULTS.factor);
  const [bakeMinutes, setBakeMinutes] = useState(DEFAULTS.bakeMinutes);
  const [minFrames, setMinFrames] = useState(DEFAULTS.minFrames);
  const [maxRatio, setMaxRatio] = useState(DEFAULTS.maxIncidentRateRatio);
  const [autoRollback, setAutoRollback] = useState(DEFAULTS.autoRollback);
  const [start, setStart] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);

  // only devices of the model's project can run it
  const eligible = useMemo(
    () => props.devices.filter((d) => !model || d.projectId === model.projectId),
    [props.devices, model],
  );
  const allTags = useMemo(() => [...new Set(eligible.flatMap((d) => d.tags))].sort(), [eligible]);
  const targeted = eligible.filter((d) =>
    kind === "fleet" ? true : kind === "tags" ? d.tags.some((t) => tags.has(t)) : deviceIds.has(d.id),
  );

  // a candidate may only run in shadow: choose it for the person (also when the registry's link
  // preset it before the models loaded); they may switch back and read the hub's refusal
  const candidate = model?.stage === "candidate";
  useEffect(() => {
    if (candidate) setMode("shadow");
  }, [candidate]);
  const pickModel = (id: string) => {
    setModelId(id);
    setError(null);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!model) return;
    const body: CreateRollout = {
      modelVersionId: model.id,
      pipeline: "default",
      target: {
        tags: kind === "tags" ? [...tags] : [],
        deviceIds: kind === "devices" ? [...deviceIds] : [],
      },
      mode,
      strategy: {
        ...(namedCanary ? { canaryDeviceIds: [...canaryIds] } : { canaryPercent }),
        factor,
        bakeSeconds: Math.round(bakeMinutes * 60),
      },
      gates: { minFrames, maxIncidentRateRatio: maxRatio, autoRollback },
      start,
    };
    setBusy(true);
    setError(null);
    try {
      const r = await hub.call(rolloutRoutes.createRollout, { body });
      toast.success(`Rollout of ${modelName(model)} ${start ? "started" : "planned"}: ${r.waves.length} waves`);
      props.onCreated(r);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="New rollout">
      <form className="stack" onSubmit={submit} aria-label="New rollout">
        <Field label="Model version">
          {(id) => (
            <select id={id} value={modelId} onChange={(e) => pickModel(e.target.value)} required>
              <option value="">Choose a model version…</option>
              {offered.map((m) => (
                <option key={m.id} value={m.id}>
                  {modelName(m)} · {m.stage}
                  {m.champion ? " · champion" : ""}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Radios legend="Mode" value={mode} onChange={setMode} options={{ deploy: "Deploy", shadow: "Shadow" }} />
        {mode === "deploy" && model?.stage === "candidate" ? (
          <p className="notice">
            {modelName(model)} is a candidate: only approved versions may be deployed; a candidate may run in shadow.
          </p>
        ) : (
          <p className="muted">
            {mode === "shadow"
              ? "Shadow: runs beside the champion on the same frames and never raises an incident."
              : "Deploy: replaces the champion wave by wave."}
          </p>
        )}

        <Radios
          legend="Target"
          value={kind}
          onChange={setKind}
          options={{ fleet: "The project's fleet", tags: "By tag", devices: "Pick devices" }}
        />
        {kind === "tags" ? (
          <Choices label="Tags" values={allTags} chosen={tags} onChange={setTags} empty="No device has a tag." />
        ) : kind === "devices" ? (
          <Choices label="Devices" values={eligible.map((d) => d.id)} chosen={deviceIds} onChange={setDeviceIds} />
        ) : null}

        <Radios
          legend="Canary"
          value={namedCanary ? "named" : "percent"}
          onChange={(v) => setNamedCanary(v === "named")}
          options={{ percent: "A share of the target", named: "Named devices" }}
        />
        {namedCanary ? (
          <Choices
            label="Canary devices"
            values={targeted.map((d) => d.id)}
            chosen={canaryIds}
            onChange={setCanaryIds}
          />
        ) : (
          <NumberField
            label="Canary share (%)"
            value={canaryPercent}
            min={0.1}
            max={100}
            step={0.1}
            onChange={setCanaryPercent}
          />
        )}
        <div className="rollout-form-grid">
          <NumberField
            label="Growth factor per wave"
            value={factor}
            min={1}
            max={100}
            step={0.5}
            onChange={setFactor}
          />
          <NumberField label="Bake time (minutes)" value={bakeMinutes} min={0} step={1} onChange={setBakeMinutes} />
          <NumberField label="Minimum frames per group" value={minFrames} min={1} step={1} onChange={setMinFrames} />
          <NumberField
            label="Max incident-rate ratio"
            hint="the wave's incident rate against the control's"
            value={maxRatio}
            min={1}
            step={0.1}
            onChange={setMaxRatio}
          />
        </div>
        <label className="check">
          <input type="checkbox" checked={autoRollback} onChange={(e) => setAutoRollback(e.target.checked)} /> Roll a
          breached wave back by itself
        </label>
        <label className="check">
          <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} /> Start the canary now
          (otherwise planned, started later)
        </label>
        {error ? (
          <p className="form-error" role="alert" data-testid="rollout-form-error">
            <code>{error.code}</code> {error.message}
          </p>
        ) : null}
        <div className="row end">
          <span className="muted" aria-live="polite">
            {targeted.length} device{targeted.length === 1 ? "" : "s"} targeted
          </span>
          <Button onClick={props.onCancel} disabled={busy}>
            Cancel
          </Button>
          <Button
            type="submit"
            variant="primary"
            busy={busy}
            disabled={!model || targeted.length === 0 || (namedCanary && canaryIds.size === 0)}
          >
            Roll out
          </Button>
        </div>
      </form>
    </Card>
  );
}

function Radios<V extends string>(props: {
  legend: string;
  value: V;
  onChange(v: NoInfer<V>): void;
  options: Record<NoInfer<V>, ReactNode>;
}) {
  const name = useId();
  return (
    <fieldset className="segmented">
      <legend>{props.legend}</legend>
      {(Object.keys(props.options) as V[]).map((v) => (
        <label key={v} className="check">
          <input type="radio" name={name} checked={props.value === v} onChange={() => props.onChange(v)} />{" "}
          {props.options[v]}
        </label>
      ))}
    </fieldset>
  );
}

function Choices(props: {
  label: string;
  values: readonly string[];
  chosen: ReadonlySet<string>;
  onChange(s: ReadonlySet<string>): void;
  empty?: string;
}) {
  const toggle = (v: string) => {
    const n = new Set(props.chosen);
    if (n.has(v)) n.delete(v);
    else n.add(v);
    props.onChange(n);
  };
  return (
    <fieldset className="choices" aria-label={props.label}>
      {props.values.length === 0 ? <p className="muted">{props.empty ?? "Nothing to choose."}</p> : null}
      {props.values.map((v) => (
        <label key={v} className="check chip">
          <input type="checkbox" checked={props.chosen.has(v)} onChange={() => toggle(v)} /> {v}
        </label>
      ))}
    </fieldset>
  );
}

function NumberField(props: {
  label: string;
  hint?: string;
  value: number;
  min?: number;
  max?: number;
  step?: number;
  onChange(v: number): void;
}) {
  return (
    <Field label={props.label} hint={props.hint}>
      {(id, d) => (
        <input
          id={id}
          aria-describedby={d}
          type="number"
          inputMode="decimal"
          required
          value={Number.isFinite(props.value) ? props.value : ""}
          min={props.min}
          max={props.max}
          step={props.step}
          onChange={(e) => props.onChange(e.target.valueAsNumber)}
        />
      )}
    </Field>
  );
}
