/** What a rollout bench run measured, and its Markdown. */
import { percentile } from "@kensa/vision";
import { table } from "../report.js";
import type { DeviceResult } from "./sim-device.js";

export interface RolloutRun {
  devices: number;
  sims: number;
  /** bytes of the model rolled out */
  modelBytes: number;
  /** where devices downloaded from: the hub itself, or a site hub fed by a central hub */
  via?: "direct" | "site";
  /** bytes over the site ⇄ central uplink during the rollout (null: direct) */
  uplinkBytes?: { up: number; down: number } | null;
  /** ms the deployment request took (it publishes every device's desired state) */
  deployRequestMs: number;
  /** ms from the deployment request until the hub had stored every device's report */
  totalMs: number;
  /** devices whose report of the new bundle the hub stored */
  stored: number;
  /** epoch ms of the deployment request */
  deployedAt: number;
  results: DeviceResult[];
  cutFraction: number;
  hub: { cpuSeconds: number; peakRssBytes: number; hwmRssBytes: number };
  simCpuSeconds: number;
  /** cores of the machine (hub, simulators and everything else share them) */
  cores: number;
  load: { before: number[]; after: number[] };
  rolloutConfig: { startsPerSecond?: number; maxSpreadSeconds?: number };
  /** the hub's last error log lines, if any */
  errors: string[];
}

const s = (ms: number) => (ms / 1000).toFixed(1);
const mb = (b: number) => (b / 1e6).toFixed(1);
const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(" / ");

/** p50 / p95 / max of `xs` (ms), as seconds */
function spread(xs: number[]): string {
  if (!xs.length) return "—";
  const sorted = [...xs].sort((a, b) => a - b);
  return `${s(percentile(sorted, 50))} / ${s(percentile(sorted, 95))} / ${s(sorted[sorted.length - 1]!)}`;
}

export function rolloutSummary(run: RolloutRun) {
  const ok = run.results.filter((r) => r.reportedAt !== null);
  const toReport = ok.map((r) => r.reportedAt! - run.deployedAt);
  const downloads = ok.filter((r) => r.startedAt !== null).map((r) => r.verifiedAt! - r.startedAt!);
  const starts = ok.filter((r) => r.startedAt !== null).map((r) => r.startedAt! - run.deployedAt);
  const firstStart = Math.min(...ok.map((r) => r.startedAt ?? Number.POSITIVE_INFINITY));
  const lastVerified = Math.max(...ok.map((r) => r.verifiedAt ?? 0));
  const cut = run.results.filter((r) => r.cut);
  // a cut device received what it kept, what it lost in flight, and then the rest once
  const resent = cut.map((r) => Math.max(0, r.modelBytesReceived - run.modelBytes));
  const restartCost = cut.map((r) => r.resumedFrom ?? 0);
  const spreadMs = run.results.find((r) => r.spreadMs !== null)?.spreadMs ?? 0;
  const requests = run.results.reduce((a, r) => a + r.requests, 0);
  return {
    requests,
    ok: ok.length,
    retried: run.results.filter((r) => (r.retries ?? 0) > 0).length,
    neverReported: run.results.filter((r) => r.reportedAt === null).length,
    toReport,
    downloads,
    starts,
    spreadMs,
    throughputMBps: (ok.length * run.modelBytes) / 1e6 / ((lastVerified - firstStart) / 1000),
    cut: {
      devices: cut.length,
      resumed: cut.filter((r) => r.resumedFrom !== null && r.resumedFrom > 0).length,
      resentBytes: resent.reduce((a, b) => a + b, 0),
      restartWouldResendBytes: restartCost.reduce((a, b) => a + b, 0),
    },
  };
}

export function rolloutMarkdown(run: RolloutRun): string {
  const m = rolloutSummary(run);
  const perMb = (cpuS: number) => ((cpuS * 1000) / ((m.ok * run.modelBytes) / 1e6)).toFixed(2);
  const goal = run.totalMs <= 60_000 ? "met" : "missed";
  const rows: Array<[string, string]> = [
    ["devices (simulator processes)", `${run.devices} (${run.sims})`],
    ["model rolled out", `${mb(run.modelBytes)} MB (U-Net fp32)`],
    [
      "spread window the hub sent",
      `${s(m.spreadMs)} s (rollout.startsPerSecond ${run.rolloutConfig.startsPerSecond ?? "default"})`,
    ],
    ["deployment request (publishes every desired state)", `${s(run.deployRequestMs)} s`],
    [
      "**deployment → every report stored on the hub**",
      `**${s(run.totalMs)} s** (${run.stored}/${run.devices}; goal ≤ 60 s ${goal})`,
    ],
    ["per device, deployment → report acknowledged (p50 / p95 / max)", `${spread(m.toReport)} s`],
    ["per device, download start after deployment (p50 / p95 / max)", `${spread(m.starts)} s`],
    ["per device, first request → bundle verified (p50 / p95 / max)", `${spread(m.downloads)} s`],
    ["delivered throughput, first download start → last verified", `${m.throughputMBps.toFixed(0)} MB/s`],
    [
      "hub CPU during the rollout",
      `${run.hub.cpuSeconds.toFixed(1)} s (${((run.hub.cpuSeconds * 1000) / run.totalMs).toFixed(2)} cores)`,
    ],
    [
      "hub RSS, peak during the rollout / since start",
      `${mb(run.hub.peakRssBytes)} MB / ${mb(run.hub.hwmRssBytes)} MB`,
    ],
    ["simulators' CPU during the rollout", `${run.simCpuSeconds.toFixed(1)} s`],
    [
      "CPU per MB delivered, hub / simulators",
      `${perMb(run.hub.cpuSeconds)} / ${perMb(run.simCpuSeconds)} ms (floor on ${run.cores} idle cores: ${((run.hub.cpuSeconds + run.simCpuSeconds) / run.cores).toFixed(0)} s)`,
    ],
    ["HTTP requests (manifest, model, retries)", `${m.requests} (${(m.requests / run.devices).toFixed(2)} per device)`],
    ["load average 1 / 5 / 15 min, before → after", `${loads(run.load.before)} → ${loads(run.load.after)}`],
    [
      `interrupted downloads (cut at ${run.cutFraction * 100} % of the model)`,
      `${m.cut.devices} devices, ${m.cut.resumed} resumed with Range; ${mb(m.cut.resentBytes)} MB re-sent in all (a restart from zero would have re-sent ${mb(m.cut.restartWouldResendBytes)} MB)`,
    ],
    [
      "devices whose update failed and was tried again / that never reported",
      `${m.retried} / ${m.neverReported}${topErrors(run)}`,
    ],
  ];
  const notes = [
    "Each simulated device runs the agent's own code: its MQTT link (device credentials, presence, the retained desired state),",
    "its bundle fetcher and store (spread start, Range resume, sha256 of the whole model before use) and reports the bundle on",
    "`reported` as the agent does; it loads no model. Hub, simulators and bench are separate processes on the same machine,",
    "over loopback; the simulators' bundle stores are on tmpfs and each bundle is deleted once reported.",
  ];
  return `${table(["measure", "value"], rows)}\n\n${notes.join("\n")}${run.errors.length ? `\n\nHub errors (last): \`${run.errors.join("` `")}\`` : ""}`;
}

/** the commonest failure messages of retried devices, for the table */
function topErrors(run: RolloutRun): string {
  const by = new Map<string, number>();
  for (const r of run.results) {
    if (!r.retries || !r.error) continue;
    const cause = /\(([A-Z_]+)\)$/.exec(r.error)?.[1] ?? (/timeout/i.test(r.error) ? "timeout" : "other");
    by.set(cause, (by.get(cause) ?? 0) + 1);
  }
  const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return top.length ? ` (last failure: ${top.map(([k, v]) => `${k} ${v}`).join(", ")})` : "";
}
