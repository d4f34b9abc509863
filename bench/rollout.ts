/**
 * `npm run bench -- rollout`: a 10 MB model deployed to 1,000 simulated devices. A real hub
 * (its own process, SQLite, embedded broker) enrolls the devices; simulator processes run
 * each device on the agent's own code (MQTT link, bundle fetcher with spread start and Range
 * resume, sha256 verification) and report the new bundle as the agent does. Measured: time
 * from the deployment request until the hub has stored every device's report, per-device
 * times, hub CPU and RSS, load averages, and the bytes re-sent to devices cut mid-transfer.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { percentile } from "@kensa/vision";
import Database from "better-sqlite3";
import { cpuMicros, forkTs, nextMessage, stopChild } from "./ingest/child.js";
import { type RolloutRun, rolloutMarkdown, rolloutSummary } from "./rollout/rollout-report.js";
import type { SimMessage, SimStart } from "./rollout/sim.js";
import type { DeviceResult, SimDeviceSpec } from "./rollout/sim-device.js";
import { enrollDevices, startTopology, type Via } from "./rollout/topology.js";

export interface RolloutOptions {
  devices?: number;
  /** simulator processes */
  sims?: number;
  /** devices whose first model download is cut half-way */
  cut?: number;
  /** hub `rollout` config */
  rollout?: { startsPerSecond?: number; maxSpreadSeconds?: number };
  /** devices download from the hub itself (default), or from a site hub fed by a central hub */
  via?: Via;
  log?: (line: string) => void;
}

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export async function rolloutSection(): Promise<{ markdown: string; data: unknown }> {
  const run = await runRollout({
    devices: env("KENSA_BENCH_ROLLOUT_DEVICES", 1000),
    sims: env("KENSA_BENCH_ROLLOUT_SIMS", 2),
    cut: env("KENSA_BENCH_ROLLOUT_CUT", 50),
    ...(process.env.KENSA_BENCH_ROLLOUT_STARTS
      ? { rollout: { startsPerSecond: Number(process.env.KENSA_BENCH_ROLLOUT_STARTS) } }
      : {}),
    log: (line) => console.error(`  rollout: ${line}`),
  });
  // results.json keeps the figures, not a thousand per-device rows
  const { results: _perDevice, ...figures } = run;
  const { toReport, downloads, starts, ...summary } = rolloutSummary(run);
  const ms = { toReportMs: pcts(toReport), downloadMs: pcts(downloads), startMs: pcts(starts) };
  return { markdown: rolloutMarkdown(run), data: { ...figures, summary: { ...summary, ...ms } } };
}

export async function runRollout(o: RolloutOptions = {}): Promise<RolloutRun> {
  const n = o.devices ?? 1000;
  const simCount = o.sims ?? 2;
  const log = o.log ?? (() => undefined);
  const dir = await tempDir("kensa-rollout-");
  // the devices' bundle stores live in memory: the bench measures delivery, not this disk
  const simDir = join("/dev/shm", `kensa-rollout-${process.pid}-${randomBytes(3).toString("hex")}`);
  const cleanups: Array<() => Promise<unknown>> = [
    async () => dir.remove(),
    () => rm(simDir, { recursive: true, force: true }),
  ];
  try {
    const topo = await startTopology(o.via ?? "direct", dir.path, o.rollout ? { rollout: o.rollout } : {});
    cleanups.push(() => topo.close());
    const hub = topo.deviceHub;
    log(`${topo.via}: model ${(topo.modelBytes / 1e6).toFixed(1)} MB; enrolling ${n} devices`);
    const devices: SimDeviceSpec[] = await enrollDevices(topo, n);

    // simulators: devices dealt round-robin; every 1/(cut share) device is cut part-way
    const cutEvery = o.cut ? Math.max(1, Math.floor(n / o.cut)) : 0;
    const cutIds = cutEvery ? devices.filter((_, i) => i % cutEvery === 0).map((d) => d.id) : [];
    const sims = Array.from({ length: simCount }, () => forkTs(join(import.meta.dirname, "rollout", "sim.ts")));
    for (const s of sims) cleanups.push(() => stopChild(s.child, { type: "close" }, 10_000));
    await mkdir(simDir, { recursive: true });
    const t0 = Date.now();
    const ready = await Promise.all(
      sims.map((s, k) => {
        const mine = devices.filter((_, i) => i % simCount === k);
        const start: SimStart = {
          type: "start",
          devices: mine,
          cut: cutIds.filter((id) => mine.some((d) => d.id === id)),
          cutAt: 0.5,
          mqttUrl: hub.mqttUrl,
          hubUrl: hub.httpUrl,
          dir: join(simDir, `sim-${k}`),
        };
        const r = nextMessage<Extract<SimMessage, { type: "ready" }>>(s.child, "ready", 300_000);
        s.child.on("message", (m: SimMessage) => {
          if (m.type === "failed") log(`simulator failed: ${m.error}`);
        });
        s.child.send(start);
        return r;
      }),
    );
    log(`${n} devices online in ${Date.now() - t0} ms; deploying`);

    // the rollout: from the deployment request until the hub has stored every device's report
    const reader = new Database(hub.dbPath, { readonly: true, fileMustExist: true });
    cleanups.push(async () => reader.close());
    const loadBefore = loadavg();
    const hubCpu = () => topo.pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
    const hubCpu0 = hubCpu();
    const simCpu0 = ready.reduce((s, r) => s + cpuMicros(r.pid), 0);
    let peakRss = 0;
    const rssTimer = setInterval(() => {
      peakRss = Math.max(peakRss, rssBytes(hub.pid));
    }, 200);
    cleanups.push(async () => clearInterval(rssTimer));
    const deployedAt = Date.now();
    const deployment = await topo.deploy();
    const requestMs = deployment.requestMs;
    const count = reader.prepare("SELECT count(*) AS n FROM devices WHERE reported LIKE ?");
    const pattern = `%${deployment.bundleSha256}%`;
    const deadline = deployedAt + env("KENSA_BENCH_ROLLOUT_TIMEOUT_S", 600) * 1000;
    let stored = 0;
    let lastLog = 0;
    while (Date.now() < deadline) {
      stored = (count.get(pattern) as { n: number }).n;
      if (stored >= n) break;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`${stored}/${n} reported after ${((Date.now() - deployedAt) / 1000).toFixed(1)} s`);
        await logFailures(sims, log);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const allStoredAt = Date.now();
    clearInterval(rssTimer);
    const hubCpuS = (hubCpu() - hubCpu0) / 1e6;
    const simCpuS = (ready.reduce((s, r) => s + cpuMicros(r.pid), 0) - simCpu0) / 1e6;
    const loadAfter = loadavg();

    const results: DeviceResult[] = [];
    for (const s of sims) {
      const got = nextMessage<Extract<SimMessage, { type: "results" }>>(s.child, "results", 30_000);
      s.child.send({ type: "collect" });
      results.push(...(await got).results);
    }
    return {
      devices: n,
      sims: simCount,
      modelBytes: topo.modelBytes,
      via: topo.via,
      uplinkBytes: topo.uplinkBytes(),
      deployRequestMs: requestMs,
      totalMs: allStoredAt - deployedAt,
      stored,
      deployedAt,
      results,
      cutFraction: 0.5,
      hub: { cpuSeconds: hubCpuS, peakRssBytes: peakRss, hwmRssBytes: hwmBytes(hub.pid) },
      simCpuSeconds: simCpuS,
      cores: cpus().length,
      load: { before: loadBefore, after: loadAfter },
      rolloutConfig: o.rollout ?? {},
      errors: topo
        .output()
        .split("\n")
        .filter((l) => /"level":(50|60)/.test(l))
        .slice(-5),
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

/** p50, p95 and max of per-device times (ms) */
function pcts(xs: number[]): { p50: number; p95: number; max: number; n: number } {
  return { p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(0, ...xs), n: xs.length };
}

/** What the simulated devices failed with so far, by message (a stalled rollout says why). */
async function logFailures(sims: Array<ReturnType<typeof forkTs>>, log: (line: string) => void): Promise<void> {
  const byMessage = new Map<string, number>();
  for (const s of sims) {
    const got = nextMessage<Extract<SimMessage, { type: "results" }>>(s.child, "results", 30_000);
    s.child.send({ type: "collect" });
    for (const r of (await got).results) {
      if (!r.error || r.reportedAt) continue;
      const key = r.error.replace(/[a-f0-9]{64}/g, "<sha>").replace(/:\d+/g, ":<port>");
      byMessage.set(key, (byMessage.get(key) ?? 0) + 1);
    }
  }
  for (const [message, devices] of byMessage) log(`  ${devices} device(s) failing: ${message}`);
}

/** bytes resident now (/proc/<pid>/status VmRSS) */
function rssBytes(pid: number): number {
  return statusKb(pid, "VmRSS") * 1024;
}

/** bytes resident at the peak since the process started (VmHWM) */
function hwmBytes(pid: number): number {
  return statusKb(pid, "VmHWM") * 1024;
}

function statusKb(pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
