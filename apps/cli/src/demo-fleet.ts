import type { KensaClient } from "@kensa/client";
import { type Backtest, backtestRoutes, type Rollout, rolloutRoutes, shadowRoutes } from "@kensa/contracts";

/** One staged rollout of the demo, as the report states it. */
export interface DemoRollout {
  id: string;
  /** "v3" */
  model: string;
  /** what the target ran before ("v1"), null when nothing */
  champion: string | null;
  mode: Rollout["mode"];
  state: Rollout["state"];
  wavesPassed: number;
  waves: number;
  /** why it is paused, rolled back or aborted; for a running or completed one, the latest gate words */
  reason: string | null;
}

/** A challenger's agreement with one champion it ran beside, over the fleet. */
export interface DemoShadowPair {
  challenger: string;
  champion: string;
  devices: number;
  frames: number;
  agree: number;
  /** agree / frames, null before any frame */
  rate: number | null;
  /** Wilson score 95 % interval of the rate */
  interval: [number, number];
  /** frames the agents captured for labeling because the two disagreed */
  captures: number;
}

/** The demo's backtest of its challenger against the champion's recorded decisions and the reviewer's verdicts. */
export interface DemoBacktest {
  id: string;
  model: string;
  status: Backtest["status"];
  /** the champions whose recorded decisions it was compared with ("v1") */
  champions: string[];
  frames: number;
  skipped: number;
  /** frames with a human verdict */
  judged: number;
  incidents: { champion: number; candidate: number; added: number; removed: number };
  falseAlarms: { champion: number; candidate: number; added: number; removed: number };
  misses: { champion: number; candidate: number; added: number; removed: number };
  framesPerSecond: number | null;
  /** the failure's code and message when it failed */
  error: string | null;
}

/** What the fleet features did during the demo: rollouts, shadow agreement, the backtest. */
export interface DemoFleetView {
  rollouts: DemoRollout[];
  shadowAgreement: DemoShadowPair[];
  backtest: DemoBacktest | null;
}

/** model version id → "v3"; the id itself for a version not listed */
export type VersionNames = ReadonlyMap<string, number>;

export function vName(versions: VersionNames, id: string | null): string {
  if (id === null) return "nothing";
  const v = versions.get(id);
  return v === undefined ? id : `v${v}`;
}

/** Reads the project's rollouts (oldest first), each shadow's agreement and the latest backtest from the hub. */
export async function fleetView(api: KensaClient, projectId: string, versions: VersionNames): Promise<DemoFleetView> {
  const [rollouts, backtests] = await Promise.all([
    api.call(rolloutRoutes.listRollouts, { query: { projectId } }),
    api.call(backtestRoutes.list, { params: { id: projectId }, query: { limit: 1 } }),
  ]);
  const ordered = [...rollouts.items].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const shadows = [...new Set(ordered.filter((r) => r.mode === "shadow").map((r) => r.modelVersionId))];
  const agreements = await Promise.all(
    shadows.map((id) => api.call(shadowRoutes.agreement, { params: { id }, query: {} })),
  );
  const latest = backtests.items[0];
  return {
    rollouts: ordered.map((r) => rolloutOf(r, versions)),
    shadowAgreement: agreements.flatMap((a) =>
      a.pairs.map((p) => ({
        challenger: vName(versions, p.challengerModelVersionId),
        champion: vName(versions, p.championModelVersionId),
        devices: p.devices,
        frames: p.overall.frames,
        agree: p.overall.agree,
        rate: p.overall.rate,
        interval: p.overall.interval,
        captures: p.captures,
      })),
    ),
    backtest: latest ? backtestOf(latest, versions) : null,
  };
}

export function rolloutOf(r: Rollout, versions: VersionNames): DemoRollout {
  return {
    id: r.id,
    model: vName(versions, r.modelVersionId),
    champion: r.championModelVersionId ? vName(versions, r.championModelVersionId) : null,
    mode: r.mode,
    state: r.state,
    wavesPassed: r.waves.filter((w) => w.state === "passed").length,
    waves: r.waves.length,
    reason: r.reason ?? fieldGateWords(r),
  };
}

/**
 * The words of the gate that judges what the model does in the field (shadow agreement, or
 * the incident rate) in the latest evaluation of the wave running or last passed.
 */
export function fieldGateWords(r: Rollout): string | null {
  const judged = [...r.waves].reverse().find((w) => w.gates.length > 0);
  const g =
    judged?.gates.find((x) => x.gate === "shadow_agreement" || x.gate === "false_alarms") ??
    judged?.gates.find((x) => x.gate === "incident_rate");
  return g ? `${g.gate}: ${g.detail}` : null;
}

export function backtestOf(b: Backtest, versions: VersionNames): DemoBacktest {
  const t = b.report?.totals;
  const pair = (champion: number, candidate: number, change: { added: number; removed: number }) => ({
    champion,
    candidate,
    ...change,
  });
  const none = { added: 0, removed: 0 };
  return {
    id: b.id,
    model: vName(versions, b.modelVersionId),
    status: b.status,
    champions: (b.report?.championModelIds ?? []).map((id) => vName(versions, id)),
    frames: t?.frames ?? 0,
    skipped: t?.skipped ?? 0,
    judged: t?.judged ?? 0,
    incidents: pair(t?.champion.incidents ?? 0, t?.candidate.incidents ?? 0, t?.incidents ?? none),
    falseAlarms: pair(t?.champion.falseAlarms ?? 0, t?.candidate.falseAlarms ?? 0, t?.falseAlarms ?? none),
    misses: pair(t?.champion.misses ?? 0, t?.candidate.misses ?? 0, t?.misses ?? none),
    framesPerSecond: b.report ? Math.round(b.report.framesPerSecond) : null,
    error: b.error ? `${b.error.code}: ${b.error.message}` : null,
  };
}

/** "98.7 % [96.2 %, 99.6 %]" */
export function rateText(rate: number | null, interval: readonly [number, number]): string {
  if (rate === null) return "n/a";
  return `${pct(rate)} [${pct(interval[0])}, ${pct(interval[1])}]`;
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

/** "rollout   v2 shadow beside v1: completed, 2/2 waves passed (shadow_agreement: …)" */
export function rolloutLine(r: DemoRollout): string {
  const beside = r.mode === "shadow" ? ` beside ${r.champion ?? "nothing"}` : ` over ${r.champion ?? "nothing"}`;
  const why = r.reason ? ` (${r.reason})` : "";
  return `rollout   ${r.model} ${r.mode}${beside}: ${r.state.replace("_", " ")}, ${r.wavesPassed}/${r.waves} waves passed${why}`;
}

export function shadowLine(p: DemoShadowPair): string {
  return (
    `shadow    ${p.challenger} beside ${p.champion}: agreement ${rateText(p.rate, p.interval)} on ${p.frames} frames ` +
    `from ${p.devices} device${p.devices === 1 ? "" : "s"}, ${p.captures} disagreement${p.captures === 1 ? "" : "s"} captured for labeling`
  );
}

export function backtestLine(b: DemoBacktest): string {
  if (b.status !== "succeeded") {
    return `backtest  ${b.id} of ${b.model}: ${b.status}${b.error ? ` (${b.error})` : ""}`;
  }
  const against = b.champions.length ? b.champions.join(", ") : "the champion";
  // added and removed count the frames whose champion decision is recorded; the incident totals
  // count every replayed frame (captures too), so they are not put side by side
  return (
    `backtest  ${b.model} on ${b.frames} archived frames (${b.judged} with a verdict${b.skipped ? `, ${b.skipped} skipped` : ""}): ` +
    `against ${against}'s decisions ${b.incidents.added} incidents added, ${b.incidents.removed} removed; ` +
    `false alarms ${b.falseAlarms.champion} (${against}) vs ${b.falseAlarms.candidate} (${b.model}), ` +
    `misses ${b.misses.champion} vs ${b.misses.candidate}` +
    (b.framesPerSecond !== null ? `; ${b.framesPerSecond} frames/s` : "")
  );
}

/** The summary's lines about rollouts, shadow agreement and the backtest. */
export function fleetLines(v: DemoFleetView): string[] {
  return [
    ...v.rollouts.map(rolloutLine),
    ...v.shadowAgreement.map(shadowLine),
    ...(v.backtest ? [backtestLine(v.backtest)] : []),
  ];
}
