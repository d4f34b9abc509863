import type { GateName, GateResult, Rollout, RolloutState, RolloutWave } from "@kensa/contracts";
import type { Tone } from "../../ui";

export const STATE_TONE: Record<RolloutState, Tone> = {
  planned: "neutral",
  running: "info",
  paused: "warning",
  rolled_back: "danger",
  completed: "success",
  aborted: "neutral",
};

export const STATE_LABEL: Record<RolloutState, string> = {
  planned: "planned",
  running: "running",
  paused: "paused",
  rolled_back: "rolled back",
  completed: "completed",
  aborted: "aborted",
};

export const WAVE_TONE: Record<RolloutWave["state"], Tone> = {
  pending: "neutral",
  baking: "info",
  passed: "success",
  breached: "danger",
  rolled_back: "warning",
};

export const GATE_TONE: Record<GateResult["status"], Tone> = { pass: "success", breach: "danger", waiting: "neutral" };

export const GATE_LABEL: Record<GateName, string> = {
  install: "Install and self-test",
  restarts: "Restarts",
  latency: "Latency p95",
  incident_rate: "Incident rate",
  false_alarms: "False alarms",
  shadow_agreement: "Shadow agreement",
  frame_rate: "Frame rate",
  backtest: "Backtest on the archive",
};

/** States in which nothing changes any more: no polling, no actions. */
export function isFinished(s: RolloutState): boolean {
  return s === "completed" || s === "rolled_back" || s === "aborted";
}

/** "wave 2 of 4" (1-based for people; `currentWave` is 0-based) */
export function waveText(r: Pick<Rollout, "currentWave" | "waves">): string {
  if (r.waves.length === 0) return "no wave";
  return `wave ${Math.min(r.currentWave, r.waves.length - 1) + 1} of ${r.waves.length}`;
}

export function targetText(t: Rollout["target"]): string {
  const parts = [...t.tags.map((tag) => `tag ${tag}`), ...(t.deviceIds.length ? [t.deviceIds.join(", ")] : [])];
  return parts.join(" + ") || "the project's fleet";
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

const num = (v: number, digits = 2) => v.toLocaleString(undefined, { maximumFractionDigits: digits });

/**
 * How to read a gate's group figures: what its `count` counts and what its `value` is, as the
 * hub's gates fill them (apps/hub/src/rollouts/rollout-gates.ts): rates per frame, an installed
 * share, an agreement share, or the median device's ratio to its own figures before the wave.
 */
export const GATE_FIGURES: Record<GateName, { count: string; value: string; format(v: number): string }> = {
  install: { count: "Failed", value: "Installed", format: (v) => `${num(v * 100, 1)} %` },
  restarts: { count: "Restarts", value: "Figure", format: (v) => num(v) },
  incident_rate: { count: "Incidents", value: "Rate", format: (v) => `${num(v * 1000)} per 1,000 frames` },
  false_alarms: { count: "False alarms", value: "Rate", format: (v) => `${num(v * 1000)} per 1,000 frames` },
  shadow_agreement: { count: "Agreeing frames", value: "Agreement", format: (v) => `${num(v * 100, 1)} %` },
  latency: { count: "Devices reporting", value: "p95 vs own", format: (v) => `× ${num(v)}` },
  frame_rate: { count: "Devices reporting", value: "fps vs own", format: (v) => `× ${num(v)}` },
  backtest: { count: "Misses added", value: "Miss rate", format: (v) => `${num(v * 100, 1)} % of judged frames` },
};

/** What the gate held the wave to, in words: "≤ 1.5 × control". */
export function formatThreshold(gate: GateName, threshold: number): string {
  switch (gate) {
    case "install":
      return `≤ ${plural(threshold, "failure")}`;
    case "restarts":
      return `≤ ${plural(threshold, "restart")}`;
    case "latency":
      return `≤ ${num(threshold)} × each device's own p95`;
    case "incident_rate":
    case "false_alarms":
      return `≤ ${num(threshold)} × the control's rate`;
    case "shadow_agreement":
      return `≥ ${num(threshold * 100, 1)} % (lower bound of the 95 % interval)`;
    case "frame_rate":
      return `≥ ${num(threshold)} × each device's own fps`;
    case "backtest":
      return `≤ ${plural(threshold, "miss", "misses")} added beyond the champion's`;
  }
}

export function formatPValue(p: number): string {
  return p < 0.0001 ? "< 0.0001" : p.toPrecision(2);
}

/** A short line of the strategy: "canary 10 % · ×2 per wave · bake 1 h". */
export function strategyText(s: Rollout["strategy"]): string {
  const canary = s.canaryDeviceIds.length
    ? `canary ${s.canaryDeviceIds.join(", ")}`
    : `canary ${num(s.canaryPercent)} %`;
  return `${canary} · ×${num(s.factor)} per wave · bake ${durationText(s.bakeSeconds)}`;
}

/** seconds → "45 s", "15 min", "2 h 30 min", "3 d" */
export function durationText(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.round(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.round(h / 24)} d`;
}
