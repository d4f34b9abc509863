import type { GateResult } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { evaluateGates } from "./rollout-gates.js";
import { evidenceTimeoutSeconds } from "./rollout-plan.js";
import { framesIn, type GroupWindow, incidentsIn, latestBacktest, reportedOf, telemetryIn } from "./rollout-signals.js";
import type { StoredRollout } from "./rollout-store.js";

/** The shadow's agreement with the champion on some devices since a time (implemented by shadow/). */
export type ShadowAgreementPort = (q: {
  challengerModelVersionId: string;
  deviceIds: readonly string[];
  since: string;
}) => Promise<{ frames: number; agree: number }>;

export interface WaveVerdict {
  gates: GateResult[];
  /** breach: a gate breached; pass: every gate passed after the bake; timeout: evidence never came; wait */
  decision: "breach" | "pass" | "timeout" | "wait";
  reason: string;
}

const EPOCH = new Date(0).toISOString();

/**
 * Gathers the current wave's evidence and judges it. The control is the target's devices not
 * yet reached, on the champion, in the same window; when none are left (the last wave), the
 * wave's own devices' history on the champion stands in for it.
 */
export async function evaluateWave(
  db: Kysely<HubDatabase>,
  r: StoredRollout,
  now: number,
  shadow: ShadowAgreementPort | undefined,
): Promise<WaveVerdict> {
  const wave = r.waves[r.currentWave]!;
  const since = wave.startedAt!;
  const reached = new Set(r.waves.slice(0, r.currentWave + 1).flatMap((w) => w.deviceIds));
  const waveWindow: GroupWindow = {
    deviceIds: wave.deviceIds,
    modelVersionId: r.modelVersionId,
    pipeline: r.pipeline,
    fromSeq: wave.fromSeq,
    since,
  };
  const deploy = r.mode === "deploy";
  const waveFrames = deploy ? await framesIn(db, waveWindow) : new Map<string, number>();
  const waveIncidents = deploy ? await incidentsIn(db, waveWindow) : { incidents: 0, falseAlarms: 0, reviewed: 0 };
  let control = null;
  if (deploy && r.championModelVersionId) {
    const others = r.waves.flatMap((w) => w.deviceIds).filter((id) => !reached.has(id));
    const w: GroupWindow =
      others.length > 0
        ? {
            deviceIds: others,
            modelVersionId: r.championModelVersionId,
            pipeline: r.pipeline,
            fromSeq: wave.fromSeq,
            since,
          }
        : {
            deviceIds: wave.deviceIds,
            modelVersionId: r.championModelVersionId,
            pipeline: r.pipeline,
            fromSeq: {},
            since: EPOCH,
          };
    control = {
      devices: w.deviceIds.length,
      frames: await framesIn(db, w),
      incidents: await incidentsIn(db, w),
      kind: others.length > 0 ? ("devices" as const) : ("history" as const),
    };
  }
  const off = new Set(r.gates.disabled);
  const telemetry =
    off.has("latency") && off.has("frame_rate")
      ? { current: new Map(), baseline: new Map() }
      : await telemetryIn(db, wave.deviceIds, since, now);
  const agreement =
    r.mode === "shadow" && shadow
      ? await shadow({ challengerModelVersionId: r.modelVersionId, deviceIds: wave.deviceIds, since })
      : null;
  const gates = evaluateGates({
    mode: r.mode,
    gates: r.gates,
    pipeline: r.pipeline,
    challenger: r.modelVersionId,
    bundleShas: new Set(wave.bundleShas),
    waveDevices: wave.deviceIds,
    waveFrames,
    waveIncidents,
    control,
    reported: await reportedOf(db, wave.deviceIds),
    restartsAtStart: wave.restartsAtStart,
    waveStartedAt: since,
    telemetry,
    shadow: agreement,
    ...(r.gates.requireBacktest ? { backtest: await latestBacktest(db, r.modelVersionId) } : {}),
  });
  const elapsed = (now - Date.parse(since)) / 1000;
  const breached = gates.filter((g) => g.status === "breach");
  if (breached.length > 0) {
    const words = breached.map((g) => `${g.gate}: ${g.detail}`).join("; ");
    return { gates, decision: "breach", reason: `wave ${wave.index + 1} of ${r.waves.length} breached ${words}` };
  }
  const waiting = gates.filter((g) => g.status === "waiting");
  if (waiting.length === 0 && elapsed >= r.strategy.bakeSeconds) return { gates, decision: "pass", reason: "" };
  if (waiting.length > 0 && elapsed >= evidenceTimeoutSeconds(r.strategy)) {
    const words = waiting.map((g) => `${g.gate}: ${g.detail}`).join("; ");
    return {
      gates,
      decision: "timeout",
      reason: `wave ${wave.index + 1} still lacks evidence after ${Math.round(elapsed)} s (${words}); nothing passes without it`,
    };
  }
  return { gates, decision: "wait", reason: "" };
}
