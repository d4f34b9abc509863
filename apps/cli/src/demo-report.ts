import type { KensaClient } from "@kensa/client";
import { fleetRoutes, type HubStats, systemRoutes, type TrainingRun, trainingRoutes } from "@kensa/contracts";
import { type DemoFleetView, fleetLines, fleetView } from "./demo-fleet.js";
import { type DemoModel, demoModels } from "./demo-models.js";

export interface DemoReport {
  startedAt: string;
  endedAt: string;
  durationSec: number;
  /** "timer" after --for, "signal" after Ctrl-C (or SIGTERM) */
  stoppedBy: "timer" | "signal";
  urls: { console: string; api: string; mqtt: string };
  /** `online` when the report was taken; `seenOnline`: devices that reported to the hub during the run */
  devices: { total: number; online: number; seenOnline: number };
  framesInspected: number;
  eventsStored: number;
  incidents: number;
  notificationsSent: number;
  emailsReceived: number;
  webhooksReceived: number;
  webhooksWithValidSignature: number;
  verdicts: number;
  ingest: HubStats["ingest"];
  /** how the first model came about; "hand-built" only when PyTorch is missing */
  training: { available: boolean; python: string; firstModel: "trained" | "hand-built"; runs: number };
  /** a run still training when the demo stopped, and what became of it */
  retrainInFlight: { runId: string; status: string; note: string } | null;
  models: DemoModel[];
  /** every staged rollout of the project, oldest first: the challenger in shadow, approved versions deployed */
  rollouts: DemoFleetView["rollouts"];
  /** the shadow challenger's agreement with each champion it ran beside, over the fleet */
  shadowAgreement: DemoFleetView["shadowAgreement"];
  /** the challenger's backtest on the archived incident frames; null when none was started */
  backtest: DemoFleetView["backtest"];
  /** every stage of the loop happened at least once during the run */
  loopTurned: boolean;
  checks: Record<string, boolean>;
}

/** What the demo's own inbox and reviewer saw; the rest comes from the hub. */
export interface DemoSideCounts {
  mails: number;
  webhooks: number;
  webhooksSigned: number;
  verdictsSent: number;
}

/** What happened during the run, read from the hub while everything still runs. */
export interface DemoSnapshot {
  stats: HubStats;
  frames: number;
  seenOnline: number;
  models: DemoModel[];
  runs: TrainingRun[];
  fleet: DemoFleetView;
}

/** One look at the hub: counters, devices that ever reported, models, runs, rollouts and the backtest of the project. */
export async function takeSnapshot(api: KensaClient, projectId: string): Promise<DemoSnapshot> {
  const [stats, devices, models, runs] = await Promise.all([
    api.call(systemRoutes.stats),
    api.call(fleetRoutes.list),
    demoModels(api, projectId),
    api.call(trainingRoutes.listForProject, { params: { id: projectId } }),
  ]);
  const fleet = await fleetView(api, projectId, new Map(models.map((m) => [m.id, m.version])));
  return {
    fleet,
    stats,
    frames: devices.items.reduce((n, d) => n + (d.telemetry?.framesTotal ?? 0), 0),
    // the data dir is new for every demo: a device the hub has seen was online during this run
    seenOnline: devices.items.filter((d) => d.presence === "online" || d.lastSeenAt !== null).length,
    models,
    runs: runs.items,
  };
}

/** The loop's stages, each true when it happened at least once during the run. */
export function loopChecks(
  s: DemoSnapshot,
  side: DemoSideCounts,
  opts: { simulatedReviewer: boolean; trainerAvailable: boolean },
): { checks: Record<string, boolean>; turned: boolean } {
  const retrained = s.runs.some(
    (r) =>
      r.trigger.type === "labels" &&
      r.status === "succeeded" &&
      s.models.some((m) => m.id === r.modelVersionId && m.gate),
  );
  const checks = {
    devicesOnline: s.seenOnline > 0,
    framesInspected: s.frames > 0,
    eventsStored: s.stats.events > 0,
    incidentsRaised: s.stats.incidents > 0,
    notificationsSent: s.stats.notifications.sent > 0 && side.mails > 0 && side.webhooks > 0,
    webhookSignaturesValid: side.webhooks > 0 && side.webhooksSigned === side.webhooks,
    verdictsStored: s.stats.verdicts > 0 || !opts.simulatedReviewer,
    // verdicts became labels, the labels retrained the model, and the gate decided on it
    "loop.retrained": retrained,
    // a rollout's canary wave went out (the challenger in shadow, at least)
    "rollout.staged": s.fleet.rollouts.some((r) => r.state !== "planned"),
    // the agents counted the shadow's agreement with the champion and the hub aggregated it
    "shadow.agreement": s.fleet.shadowAgreement.some((p) => p.frames > 0),
    "backtest.reported": s.fleet.backtest?.status === "succeeded",
  };
  // without PyTorch nothing can retrain: the check is reported, but does not fail the run
  const required = Object.entries(checks).filter(([k]) => opts.trainerAvailable || k !== "loop.retrained");
  return { checks, turned: required.every(([, ok]) => ok) };
}

/** The summary a person reads at the end of the demo. */
export function printDemoSummary(report: DemoReport, log: (line: string) => void = console.log): void {
  const how = report.stoppedBy === "signal" ? "stopped by Ctrl-C" : "ran its time";
  log(
    `demo ${report.loopTurned ? "turned the loop" : "did NOT turn the loop"} (${how} after ${report.durationSec} s): ` +
      `${report.devices.seenOnline}/${report.devices.total} devices online, ` +
      `${report.framesInspected} frames, ${report.eventsStored} events, ${report.incidents} incidents, ` +
      `${report.notificationsSent} notifications, ${report.verdicts} verdicts, ${report.training.runs} training runs`,
  );
  if (!report.training.available) {
    log("  WARNING: the first model was the HAND-BUILT fallback (PyTorch is missing); nothing was trained");
  }
  for (const m of report.models) {
    log(
      `  model v${m.version} ${m.stage}${m.champion ? " (champion)" : ""}  ${m.source}  ` +
        `accuracy ${accuracyText(m)}  gate ${m.gateNote ?? m.gate ?? "–"}`,
    );
    if (m.difference) {
      const d = m.difference;
      const p = d.pValue === null ? "" : `, p = ${d.pValue.toFixed(3)}`;
      log(`            vs champion ${signed(d.value)} [${signed(d.low)}, ${signed(d.high)}]${p}`);
    }
    if (m.gateReason) log(`            gate: ${m.gateReason}`);
  }
  for (const line of fleetLines(report)) log(`  ${line}`);
  if (report.retrainInFlight) log(`  retrain   ${report.retrainInFlight.note}`);
  if (!report.loopTurned) {
    const failed = Object.entries(report.checks)
      .filter(([, ok]) => !ok)
      .map(([k]) => k);
    log(`failed checks: ${failed.join(", ")}`);
  }
}

/** "0.913 [0.862, 0.947] on 160 test frames" (95 % interval), or the bare value without evidence. */
export function accuracyText(m: Pick<DemoModel, "accuracy" | "interval">): string {
  const acc = m.accuracy ?? null;
  if (acc === null) return "–";
  if (!m.interval) return acc.toFixed(3);
  return `${acc.toFixed(3)} [${m.interval.low.toFixed(3)}, ${m.interval.high.toFixed(3)}] on ${m.interval.samples} test frames`;
}

function signed(x: number): string {
  return `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`;
}
