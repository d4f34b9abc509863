import type { BacktestCounts, GateName, GateResult, Reported, RolloutGates, RolloutMode } from "@kensa/contracts";
import { wilsonInterval } from "../registry/gate-stats.js";
import type { IncidentCounts, TelemetryWindow } from "./rollout-signals.js";
import { median } from "./rollout-signals.js";
import { rateTestPValue } from "./rollout-stats.js";

/** Everything the gates of one wave look at, gathered by the service (rollout-signals.ts). */
export interface WaveEvidence {
  mode: RolloutMode;
  gates: RolloutGates;
  pipeline: string;
  challenger: string;
  /** the bundles the wave's devices were sent (a failure naming one is the wave's) */
  bundleShas: ReadonlySet<string>;
  waveDevices: readonly string[];
  waveFrames: ReadonlyMap<string, number>;
  waveIncidents: IncidentCounts;
  /** null when nothing ran before the challenger: there is nothing to compare with */
  control: {
    devices: number;
    frames: ReadonlyMap<string, number>;
    incidents: IncidentCounts;
    /** how the control was chosen, for the gate's words */
    kind: "devices" | "history";
  } | null;
  reported: ReadonlyMap<string, Reported | null>;
  /** ISO time the wave started (an agent started later restarted during it) */
  waveStartedAt?: string;
  /** per device, the inference session restarts it had reported when the wave started */
  restartsAtStart: Readonly<Record<string, number>>;
  telemetry: TelemetryWindow;
  /** shadow mode: the challenger's agreement with the champion on the wave's frames */
  shadow: { frames: number; agree: number } | null;
  /** when the rollout requires one: the challenger's newest backtest (null: none yet) */
  backtest?: { id: string; status: string; totals: BacktestCounts | null } | null;
}

const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

/** Each gate's verdict on the wave, but those the rollout disabled. */
export function evaluateGates(e: WaveEvidence): GateResult[] {
  const off = new Set(e.gates.disabled);
  type Gate = [GateName, (e: WaveEvidence) => GateResult];
  const field: Gate[] =
    e.mode === "deploy"
      ? [
          ["incident_rate", incidentRate],
          ["false_alarms", falseAlarms],
        ]
      : [["shadow_agreement", shadowAgreement]];
  const gates: Gate[] = [
    ["install", install],
    ["restarts", restarts],
    ...field,
    ["latency", latency],
    ["frame_rate", frameRate],
  ];
  if (e.gates.requireBacktest) gates.push(["backtest", backtestGate]);
  return gates.filter(([name]) => !off.has(name)).map(([, run]) => run(e));
}

function group(devices: number, frames: number, count: number, value: number | null) {
  return { devices, frames, count, value };
}

function install(e: WaveEvidence): GateResult {
  let installed = 0;
  let failed = 0;
  const notes: string[] = [];
  for (const id of e.waveDevices) {
    const p = e.reported.get(id)?.pipelines.find((x) => x.id === e.pipeline);
    const running = e.mode === "shadow" ? p?.shadow : p?.bundle;
    if (running?.modelVersionId === e.challenger && (e.mode === "shadow" || p?.status === "loaded")) {
      installed++;
      continue;
    }
    const selfTestFailed = p?.selfTest?.status === "failed" && e.bundleShas.has(p.selfTest.bundleSha256);
    const errored = p?.error && e.bundleShas.has(p.error.bundleSha256);
    if (selfTestFailed || errored) {
      failed++;
      notes.push(`${id}: ${errored ? p!.error!.code : "KENSA_ERR_BUNDLE_SELF_TEST_FAILED"}`);
    }
  }
  const n = e.waveDevices.length;
  const threshold = e.gates.maxInstallFailures;
  const wave = group(n, 0, failed, n ? installed / n : null);
  if (failed > threshold) {
    return {
      gate: "install",
      status: "breach",
      wave,
      threshold,
      detail: `${failed} of ${n} failed: ${notes.join("; ")}`,
    };
  }
  if (installed + failed < n) {
    return {
      gate: "install",
      status: "waiting",
      wave,
      threshold,
      detail: `${installed} of ${n} devices run the new model; waiting for ${n - installed - failed}`,
    };
  }
  return {
    gate: "install",
    status: "pass",
    wave,
    threshold,
    detail: `${installed} of ${n} installed, ${failed} failed`,
  };
}

function restarts(e: WaveEvidence): GateResult {
  let count = 0;
  let agents = 0;
  for (const id of e.waveDevices) {
    const rep = e.reported.get(id);
    // the agent process itself restarted (a crash, a watchdog) after the wave started
    if (rep?.startedAt && e.waveStartedAt && rep.startedAt > e.waveStartedAt) agents++;
    const p = rep?.pipelines.find((x) => x.id === e.pipeline);
    const now = p?.session?.restarts ?? 0;
    // an agent that restarted reports a new session from 0: count at least what it reports now
    const before = e.restartsAtStart[id] ?? 0;
    count += now >= before ? now - before : now;
    if (p?.session?.state === "failed") count += e.gates.maxRestarts + 1;
  }
  const threshold = e.gates.maxRestarts;
  const wave = group(e.waveDevices.length, sum(e.waveFrames), count + agents, null);
  const status = count + agents > threshold ? "breach" : "pass";
  const detail = `${count} inference session restarts and ${agents} agent restarts in the wave`;
  return { gate: "restarts", status, wave, threshold, detail };
}

/** One-sided rate comparison of the wave with its control: breach only when higher by the ratio and significantly so. */
function rateGate(
  e: WaveEvidence,
  gate: GateName,
  what: string,
  waveCount: number,
  controlCount: number | null,
  ratio: number,
  extraWait: string | null,
): GateResult {
  const waveFrames = sum(e.waveFrames);
  const wave = group(e.waveDevices.length, waveFrames, waveCount, waveFrames ? waveCount / waveFrames : null);
  if (!e.control || controlCount === null) {
    return {
      gate,
      status: "pass",
      wave,
      threshold: ratio,
      detail: `nothing ran before this model: no ${what} to compare`,
    };
  }
  const controlFrames = sum(e.control.frames);
  const control = group(
    e.control.devices,
    controlFrames,
    controlCount,
    controlFrames ? controlCount / controlFrames : null,
  );
  const base = { gate, wave, control, threshold: ratio };
  const against = e.control.kind === "devices" ? "the control devices" : "the same devices' history on the champion";
  const min = e.gates.minFrames;
  const pValue = rateTestPValue(
    { count: waveCount, frames: waveFrames },
    { count: controlCount, frames: controlFrames },
  );
  const waveRate = waveFrames ? waveCount / waveFrames : 0;
  const controlRate = controlFrames ? controlCount / controlFrames : 0;
  // rates compared as (k + ½) ∕ n, so a control with none yet is not a division by zero
  const observed = (waveCount + 0.5) / Math.max(1, waveFrames) / ((controlCount + 0.5) / Math.max(1, controlFrames));
  const words = `${what} ${pct(waveRate)} of ${waveFrames} frames vs ${pct(controlRate)} of ${controlFrames} on ${against} (×${observed.toFixed(2)}, p = ${pValue.toPrecision(2)})`;
  // a wave far worse than its control breaches as soon as that is significant, even before min frames
  if (observed > ratio && pValue < e.gates.alpha) return { ...base, status: "breach", pValue, detail: words };
  if (waveFrames < min || controlFrames < min) {
    return {
      ...base,
      status: "waiting",
      pValue,
      detail: `${words}; waiting for ${min} frames in each group`,
    };
  }
  if (extraWait) return { ...base, status: "waiting", pValue, detail: `${words}; ${extraWait}` };
  return { ...base, status: "pass", pValue, detail: words };
}

function incidentRate(e: WaveEvidence): GateResult {
  return rateGate(
    e,
    "incident_rate",
    "incidents",
    e.waveIncidents.incidents,
    e.control?.incidents.incidents ?? null,
    e.gates.maxIncidentRateRatio,
    null,
  );
}

function falseAlarms(e: WaveEvidence): GateResult {
  const w = e.waveIncidents;
  // every incident of the wave reviewed, or at least minVerdicts of them: a wave with two
  // incidents does not wait for five verdicts, and one with none has no false alarm to count
  const needed = Math.min(e.gates.minVerdicts, w.incidents);
  const wait =
    w.reviewed < needed ? `waiting for ${needed} verdicts on the wave's incidents (${w.reviewed} so far)` : null;
  const precision = w.reviewed ? (w.reviewed - w.falseAlarms) / w.reviewed : null;
  const r = rateGate(
    e,
    "false_alarms",
    "false alarms",
    w.falseAlarms,
    e.control?.incidents.falseAlarms ?? null,
    e.gates.maxFalseAlarmRatio,
    wait,
  );
  return precision === null
    ? r
    : { ...r, detail: `${r.detail}; field precision ${pct(precision)} of ${w.reviewed} verdicts` };
}

function shadowAgreement(e: WaveEvidence): GateResult {
  const threshold = e.gates.minShadowAgreement;
  const s = e.shadow ?? { frames: 0, agree: 0 };
  const ci = wilsonInterval(s.agree, s.frames, 0.95);
  const value = s.frames ? s.agree / s.frames : null;
  const wave = group(e.waveDevices.length, s.frames, s.agree, value);
  const words = `agreement ${value === null ? "n/a" : pct(value)} on ${s.frames} frames (95 % interval ${pct(ci.low)}–${pct(ci.high)})`;
  if (s.frames > 0 && ci.high < threshold)
    return { gate: "shadow_agreement", status: "breach", wave, threshold, detail: words };
  if (s.frames < e.gates.minFrames || ci.low < threshold) {
    return {
      gate: "shadow_agreement",
      status: "waiting",
      wave,
      threshold,
      detail: `${words}; passes once the interval's low end reaches ${pct(threshold)} on at least ${e.gates.minFrames} frames`,
    };
  }
  return { gate: "shadow_agreement", status: "pass", wave, threshold, detail: words };
}

/** Each device against itself before the wave: the median device's ratio decides. */
function ownBaselineGate(
  e: WaveEvidence,
  gate: "latency" | "frame_rate",
  pick: (x: { p95: number; fps: number }) => number,
  threshold: number,
  worse: (ratio: number) => boolean,
  unit: string,
): GateResult {
  const ratios: number[] = [];
  for (const id of e.waveDevices) {
    const cur = e.telemetry.current.get(id);
    const base = e.telemetry.baseline.get(id);
    if (cur && base && pick(base) > 0) ratios.push(pick(cur) / pick(base));
  }
  const r = ratios.length ? median(ratios) : null;
  const wave = group(e.waveDevices.length, sum(e.waveFrames), ratios.length, r);
  if (r === null || ratios.length < Math.ceil(e.waveDevices.length / 2)) {
    return {
      gate,
      status: "waiting",
      wave,
      threshold,
      detail: `telemetry before and after the wave from ${ratios.length} of ${e.waveDevices.length} devices; waiting for half`,
    };
  }
  const words = `${unit} ×${r.toFixed(2)} of each device's own before the wave (median of ${ratios.length} devices)`;
  return { gate, status: worse(r) ? "breach" : "pass", wave, threshold, detail: words };
}

function latency(e: WaveEvidence): GateResult {
  return ownBaselineGate(
    e,
    "latency",
    (x) => x.p95,
    e.gates.maxLatencyRatio,
    (r) => r > e.gates.maxLatencyRatio,
    "p95 latency",
  );
}

function frameRate(e: WaveEvidence): GateResult {
  return ownBaselineGate(
    e,
    "frame_rate",
    (x) => x.fps,
    e.gates.minFrameRateRatio,
    (r) => r < e.gates.minFrameRateRatio,
    "frame rate",
  );
}

/** The challenger on the archive (docs/backtest.md) against the champion's recorded decisions and people's verdicts. */
function backtestGate(e: WaveEvidence): GateResult {
  const b = e.backtest;
  const threshold = e.gates.maxBacktestMissesAdded;
  if (!b?.totals) {
    const detail = !b
      ? "no backtest of this version yet: start one (kensa backtest run)"
      : `backtest ${b.id} is ${b.status}; waiting for it to finish`;
    return { gate: "backtest", status: "waiting", wave: group(0, 0, 0, null), threshold, detail };
  }
  const t = b.totals;
  const missesAdded = t.misses.added - t.misses.removed;
  const alarmsLimit = e.gates.maxFalseAlarmRatio * Math.max(1, t.champion.falseAlarms);
  const wave = group(0, t.frames, missesAdded, t.judged ? t.candidate.misses / t.judged : null);
  const words = `backtest ${b.id} on ${t.frames} archived frames (${t.judged} judged): misses ${t.champion.misses} → ${t.candidate.misses} (+${t.misses.added} −${t.misses.removed}), false alarms ${t.champion.falseAlarms} → ${t.candidate.falseAlarms}, incidents +${t.incidents.added} −${t.incidents.removed}`;
  const breach = missesAdded > threshold || t.candidate.falseAlarms > alarmsLimit;
  return { gate: "backtest", status: breach ? "breach" : "pass", wave, threshold, detail: words };
}
