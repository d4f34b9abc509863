/**
 * `npm run bench -- site-fanout`: the same model to the same number of simulated devices, once
 * straight from the hub and once through a site hub that a central hub feeds over an uplink
 * whose bytes are counted. What a site saves is the uplink: one copy of the model instead of
 * one per device.
 */
import { cpus, loadavg } from "node:os";
import { table } from "../report.js";
import { runRollout } from "../rollout.js";
import { type RolloutRun, rolloutSummary } from "./rollout-report.js";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const s = (ms: number) => (ms / 1000).toFixed(1);
const mb = (b: number) => (b / 1e6).toFixed(1);

export async function siteFanoutSection(): Promise<{ markdown: string; data: unknown }> {
  const devices = env("KENSA_BENCH_FANOUT_DEVICES", 1000);
  const log = (line: string) => console.error(`  site-fanout: ${line}`);
  const load0 = loadavg()[0] ?? 0;
  const runs: RolloutRun[] = [];
  for (const via of ["direct", "site"] as const) {
    runs.push(await runRollout({ devices, sims: 2, cut: 0, via, log }));
  }
  const rows = runs.map((run) => {
    const m = rolloutSummary(run);
    // direct: every device's model bytes cross the link to the hub that holds the registry
    const overLink = run.uplinkBytes ? run.uplinkBytes.down + run.uplinkBytes.up : m.ok * run.modelBytes;
    return [
      run.via === "site" ? "through a site hub (central → site → devices)" : "straight from the hub",
      `${run.stored}/${run.devices}`,
      `${s(run.deployRequestMs)} s`,
      `${s(run.totalMs)} s`,
      `${mb(overLink)} MB${run.uplinkBytes ? " (measured)" : ` (${m.ok} × ${mb(run.modelBytes)} MB)`}`,
      `${(overLink / run.modelBytes).toFixed(2)}`,
      `${run.hub.cpuSeconds.toFixed(1)} s`,
    ];
  });
  const markdown = [
    `${devices} simulated devices, a ${mb(runs[0]!.modelBytes)} MB model (U-Net fp32); ${cpus().length} cores, 1-min load average ${load0.toFixed(2)} at the start.`,
    "",
    table(
      [
        "devices get the model",
        "reported",
        "approval → device hub's deployment",
        "→ every report stored",
        "bytes over the uplink to the registry's hub",
        "model copies",
        "hub CPU (all hubs)",
      ],
      rows,
    ),
    "",
    "Direct: the hub that holds the registry serves every device, so each download crosses the link to it (counted as the",
    "devices' verified model bytes). Site: central approves the model; the site pulls the approval, downloads the model once",
    "over a TCP proxy that counts every byte both ways (sync, manifests and the model), registers and deploys it to its",
    "devices, which download from the site. Each hub is its own process (SQLite, embedded broker) on this machine; the",
    "simulated devices run the agent's own MQTT link and bundle fetcher (see the rollout section).",
  ].join("\n");
  const data = runs.map(({ results: _perDevice, ...figures }) => figures);
  return { markdown, data };
}
