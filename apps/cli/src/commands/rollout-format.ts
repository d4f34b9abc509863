import { type GateResult, KensaError, type ModelVersion, type Rollout, type RolloutWave } from "@kensa/contracts";
import { parseDuration } from "../duration.js";
import { ago, type Column, formatTable } from "../table.js";

/** model version id → `name@version`, for the versions the hub listed */
export type ModelLabels = ReadonlyMap<string, string>;

export function modelLabels(models: readonly ModelVersion[]): ModelLabels {
  return new Map(models.map((m) => [m.id, `${m.name}@${m.version}`]));
}

/** `name@version`, the id when the version is not in the list, "nothing" for none */
export function labelOf(labels: ModelLabels, id: string | null): string {
  if (id === null) return "nothing";
  return labels.get(id) ?? id;
}

/** A duration flag (`1h`, `30m`, `90s`, a bare number of seconds) as whole seconds within [min, max]. */
export function secondsFlag(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch {
      throw new KensaError("KENSA_ERR_FLAG_INVALID", `${flag} must be a duration like 90s, 30m or 1h, got '${value}'`);
    }
    const s = Math.round(ms / 1000);
    if (s < min || s > max) {
      throw new KensaError(
        "KENSA_ERR_FLAG_INVALID",
        `${flag} must be from ${seconds(min)} to ${max % 86_400 ? seconds(max) : `${max / 86_400} days`}, got '${value}'`,
      );
    }
    return s;
  };
}

/** seconds as the shortest of 1h / 30m / 90s that says it exactly */
export function seconds(s: number): string {
  if (s > 0 && s % 3600 === 0) return `${s / 3600}h`;
  if (s > 0 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** "k/n": the wave running or last run, counted from 1 as people count */
export function waveOf(r: Rollout): string {
  return r.waves.length ? `${r.currentWave + 1}/${r.waves.length}` : "0/0";
}

/** `kensa rollout list`'s columns */
export function rolloutColumns(labels: ModelLabels, now = Date.now()): Column<Rollout>[] {
  return [
    { header: "id", value: (r) => r.id },
    {
      header: "model → champion",
      value: (r) => `${labelOf(labels, r.modelVersionId)} → ${labelOf(labels, r.championModelVersionId)}`,
    },
    { header: "mode", value: (r) => r.mode },
    { header: "state", value: (r) => r.state },
    { header: "wave", value: waveOf },
    { header: "updated", value: (r) => ago(r.updatedAt, now) },
    { header: "reason", value: (r) => r.reason },
  ];
}

/** a number short enough for a table: 4 significant digits, no exponent for everyday figures */
export function figure(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** one group's figures: the value, then what it was counted from */
export function groupText(g: GateResult["wave"] | undefined): string {
  if (!g) return "–";
  const dev = `${g.devices} device${g.devices === 1 ? "" : "s"}`;
  // gates that count no frames (install, restarts, latency) show the count only when there is one
  const from =
    g.frames > 0
      ? `${figure(g.count)} in ${g.frames} frames, ${dev}`
      : g.count
        ? `count ${figure(g.count)}, ${dev}`
        : dev;
  return `${figure(g.value)} (${from})`;
}

const when = (iso: string | null, now: number) => (iso ? `${iso} (${ago(iso, now)})` : "–");

function targetText(r: Rollout): string {
  const parts = [
    ...(r.target.tags.length ? [`tags ${r.target.tags.join(", ")}`] : []),
    ...(r.target.deviceIds.length ? [`devices ${r.target.deviceIds.join(", ")}`] : []),
  ];
  return parts.length ? parts.join("; ") : "every device of the project";
}

function strategyText(r: Rollout): string {
  const s = r.strategy;
  const canary = s.canaryDeviceIds.length ? `canary ${s.canaryDeviceIds.join(", ")}` : `canary ${s.canaryPercent} %`;
  // the hub's default when none was given (rollout-plan.ts evidenceTimeoutSeconds)
  const timeout = s.evidenceTimeoutSeconds !== undefined ? seconds(s.evidenceTimeoutSeconds) : "4 × bake, at least 15m";
  return `${canary}, waves × ${s.factor}, bake ${seconds(s.bakeSeconds)}, evidence timeout ${timeout}`;
}

function gatesText(r: Rollout): string {
  const g = r.gates;
  const field =
    r.mode === "shadow"
      ? `agreement ≥ ${g.minShadowAgreement}`
      : `incidents ≤ ${g.maxIncidentRateRatio}× control, false alarms ≤ ${g.maxFalseAlarmRatio}× control`;
  return [
    `min ${g.minFrames} frames, ${g.minVerdicts} verdicts, α ${g.alpha}`,
    field,
    `auto-rollback ${g.autoRollback ? "on" : "OFF"}`,
    ...(g.disabled.length ? [`disabled: ${g.disabled.join(", ")}`] : []),
  ].join("; ");
}

const waveColumns = (now: number): Column<RolloutWave>[] => [
  { header: "wave", value: (w) => w.index + 1 },
  { header: "devices", value: (w) => w.deviceIds.join(", ") },
  { header: "state", value: (w) => w.state },
  { header: "started", value: (w) => when(w.startedAt, now) },
  { header: "ended", value: (w) => when(w.endedAt, now) },
];

const gateColumns: Column<GateResult>[] = [
  { header: "gate", value: (g) => g.gate },
  { header: "status", value: (g) => (g.status === "breach" ? "BREACH" : g.status) },
  { header: "wave", value: (g) => groupText(g.wave) },
  { header: "control", value: (g) => groupText(g.control) },
  { header: "p-value", value: (g) => figure(g.pValue) },
  { header: "threshold", value: (g) => figure(g.threshold) },
  { header: "detail", value: (g) => g.detail },
];

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

/** `kensa rollout show`: the header, every wave, the current wave's gates with their evidence, the history. */
export function formatRollout(r: Rollout, labels: ModelLabels, now = Date.now()): string {
  const champion = r.championModelVersionId
    ? `${labelOf(labels, r.championModelVersionId)} (${r.championModelVersionId})`
    : "nothing (no champion ran there)";
  const lines: Array<[string, string]> = [
    ["state", `${r.state.toUpperCase()}${r.reason ? `: ${r.reason}` : ""}`],
    ["model", `${labelOf(labels, r.modelVersionId)} (${r.modelVersionId})`],
    [r.mode === "shadow" ? "beside" : "replaces", champion],
    ["mode", `${r.mode}, pipeline ${r.pipeline}, precision ${r.precision}`],
    ["target", targetText(r)],
    ["strategy", strategyText(r)],
    ["gates", gatesText(r)],
    ["created", `${when(r.createdAt, now)} by ${r.createdBy}`],
    ["updated", when(r.updatedAt, now)],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = [`rollout ${r.id}  (project ${r.projectId})`, ...lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  out.push("", `waves (current: ${waveOf(r)})`, indent(formatTable(r.waves, waveColumns(now))));
  const wave = r.waves[r.currentWave];
  if (wave) {
    out.push("", `gates of wave ${wave.index + 1}${wave.evaluatedAt ? ` (judged ${ago(wave.evaluatedAt, now)})` : ""}`);
    if (wave.gates.length) out.push(indent(formatTable(wave.gates, gateColumns)));
    else out.push(`  not judged yet${wave.state === "pending" ? " (the wave has not started)" : ""}`);
  }
  out.push("", "history");
  out.push(
    indent(
      formatTable(r.history, [
        { header: "at", value: (h) => h.at },
        { header: "change", value: (h) => `${h.from ?? "–"} → ${h.to}` },
        { header: "by", value: (h) => h.by },
        { header: "reason", value: (h) => h.reason },
      ]),
    ),
  );
  return out.join("\n");
}

/** One line of a rollout's progress, for logs: state, wave, each gate's status (watch on a pipe). */
export function progressLine(r: Rollout): string {
  const wave = r.waves[r.currentWave];
  const gates = wave?.gates.map((g) => `${g.gate} ${g.status}`).join(", ");
  return [
    `${r.id} ${r.state}`,
    `wave ${waveOf(r)}${wave ? ` ${wave.state}` : ""}`,
    ...(gates ? [gates] : []),
    ...(r.reason ? [r.reason] : []),
  ].join(" · ");
}
