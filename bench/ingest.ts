/**
 * Event ingest throughput and publish → stored latency: simulated devices in a load-generator
 * process against the hub (its own process) in each deployment mode, beside a bare broker whose
 * subscriber answers for a hub, measured in the same run with the same load generator. Lost and
 * duplicated events are counted by id in the hub's database.
 */
import type { ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { tempDir } from "@kensa/testkit";
import { cpuMicros, forkTs, machineTicks, nextMessage, stopChild } from "./ingest/child.js";
import { ingestMarkdown } from "./ingest/ingest-report.js";
import type { IngestCell, IngestOptions, IngestRun } from "./ingest/ingest-types.js";
import type { LoadGenMessage, LoadSetup } from "./ingest/load-gen.js";
import { mosquittoAvailable } from "./ingest/mosquitto.js";
import { findPostgres, type ModeId, type ModeSpec, modes, type Rig, type StoredRow, startRig } from "./ingest/rig.js";

export type { IngestCell, IngestOptions, IngestRun };

const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const load1 = () => round(loadavg()[0] ?? 0, 2);

/** Runs every mode × device count (max rate, then half of it) and returns the cells. */
export async function runIngest(opts: IngestOptions = {}): Promise<IngestRun> {
  const log = opts.log ?? (() => undefined);
  const counts = opts.deviceCounts ?? [1, 10, 50, 200];
  const seconds = opts.seconds ?? 5;
  const window = opts.window ?? 64;
  const wanted = modes.filter((m) => !opts.modes || opts.modes.includes(m.id));
  const pgUrl = wanted.some((m) => m.database === "postgres") ? await findPostgres() : null;
  const hasMosquitto = wanted.some((m) => m.broker === "mosquitto") && mosquittoAvailable();
  const cells: IngestCell[] = [];
  const skipped: string[] = [];
  for (const mode of wanted) {
    if (mode.database === "postgres" && !pgUrl) {
      skipped.push(`${mode.label}: no PostgreSQL at 127.0.0.1:5432 (database test)`);
      continue;
    }
    if (mode.broker === "mosquitto" && !hasMosquitto) {
      skipped.push(`${mode.label}: no mosquitto executable`);
      continue;
    }
    const dir = await tempDir("kensa-bench-ingest-");
    let rig: Rig | undefined;
    try {
      log(`ingest: ${mode.label}: starting`);
      rig = await startRig(mode, {
        dir: dir.path,
        groups: counts.map((n) => ({ name: `n${n}`, count: n })),
        pgUrl,
        replicaConfig: opts.replicaConfig,
      });
      for (const n of counts) {
        for (const cell of await runDevices(rig, mode, n, { seconds, window, halfRate: opts.halfRate ?? true })) {
          log(
            `ingest: ${mode.label} N=${n} ${cell.load}: ${cell.rate} ev/s, p99 ${cell.p99} ms, lost ${cell.lost}, dup ${cell.duplicated}`,
          );
          cells.push(cell);
          await opts.onCell?.(cell);
        }
      }
    } finally {
      await rig?.close();
      await dir.remove();
    }
  }
  return { cells, skipped };
}

async function runDevices(
  rig: Rig,
  mode: ModeSpec,
  n: number,
  o: { seconds: number; window: number; halfRate: boolean },
): Promise<IngestCell[]> {
  const gen = forkTs(join(import.meta.dirname, "ingest", "load-gen.ts"));
  const fail = (m: LoadGenMessage) => {
    if (m.type === "failed") console.error(`ingest load generator: ${m.message}`);
  };
  gen.child.on("message", fail);
  try {
    const setup: LoadSetup = {
      type: "setup",
      mqttUrl: rig.mqttUrl,
      devices: rig.groups.get(`n${n}`) ?? [],
      window: o.window,
      resendMs: RESEND_MS,
      confirm: mode.hubs === 0 ? "hub" : "auto",
    };
    gen.child.send(setup);
    await nextMessage<Extract<LoadGenMessage, { type: "ready" }>>(gen.child, "ready", 120_000);
    const max = await measure(rig, gen.child, n, o.seconds, null);
    const cells = [max];
    // KENSA_BENCH_INGEST_RATE: the second run at this rate instead of half the maximum (to compare changes)
    const fixed = Number(process.env.KENSA_BENCH_INGEST_RATE ?? 0);
    if (o.halfRate && max.rate > 0) cells.push(await measure(rig, gen.child, n, o.seconds, fixed || max.rate / 2));
    return cells;
  } finally {
    gen.child.off("message", fail);
    await stopChild(gen.child, { type: "close" });
  }
}

/** ms a device waits for confirmation before it publishes an event again */
const RESEND_MS = 10_000;

async function measure(rig: Rig, gen: ChildProcess, n: number, seconds: number, rate: number | null) {
  const hubs = rig.mode.hubs > 0;
  const before = hubs ? await rig.count() : 0;
  rig.takeErrors();
  const countersBefore = hubs ? await rig.counters() : [];
  const loadStart = load1();
  const cpu0 = rig.hubCpu();
  const broker0 = rig.brokerCpu();
  const gen0 = gen.pid ? cpuMicros(gen.pid) : 0;
  const machine0 = machineTicks();
  const t0 = performance.now();
  const done = nextMessage<Extract<LoadGenMessage, { type: "done" }>>(gen, "done", seconds * 1000 + 120_000);
  gen.send({ type: "run", durationMs: seconds * 1000, rate, drainMs: 30_000 });
  const { result: r } = await done;
  const genCpuPercent = gen.pid ? round(((cpuMicros(gen.pid) - gen0) / ((performance.now() - t0) * 1000)) * 100) : 0;
  const machine1 = machineTicks();
  const machineBusyCores = round(
    ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * cpus().length,
    2,
  );
  // a hub confirming by PUBACK only may still be writing what the broker took
  if (hubs) await settle(rig, before + r.confirmed);
  const hubCpu = rig.hubCpu() - cpu0;
  const broker1 = rig.brokerCpu();
  const countersAfter = hubs ? await rig.counters() : [];
  const loadEnd = load1();
  const delta = hubs ? counterDelta(countersBefore, countersAfter) : null;

  let stored = r.confirmed;
  let lastStoredAt = r.lastConfirmAt;
  let lost = 0;
  let duplicated = 0;
  if (hubs) {
    const mine = new Set(r.ids);
    const rows = (await rig.rows()).filter((row) => mine.has(row.id));
    ({ stored, lastStoredAt, duplicated } = tally(rows));
    const inDb = new Set(rows.map((row) => row.id));
    const kept = new Set(r.unconfirmedIds);
    for (const id of r.ids) if (!kept.has(id) && !inDb.has(id)) lost++;
    // rejected events are confirmed too but never stored
    lost = Math.max(0, lost - r.rejected);
  }
  const span = (lastStoredAt - r.firstPublishAt) / 1000;
  const cell: IngestCell = {
    mode: rig.mode.id,
    devices: n,
    load: rate === null ? "max" : "half",
    targetRate: rate === null ? null : round(rate),
    confirm: r.confirm,
    deviceAuth: !hubs ? "anonymous" : rig.mode.broker === "aedes" ? "hub" : rig.dynsec ? "dynsec" : "anonymous",
    seconds,
    published: r.published,
    stored,
    rate: span > 0 ? round(stored / span) : 0,
    lost,
    duplicated,
    unconfirmed: r.unconfirmedIds.length,
    rejected: r.rejected,
    resends: r.resends,
    extraConfirmations: r.extraConfirmations,
    hubDuplicates: delta ? (delta.duplicates ?? 0) : null,
    hubCounters: delta,
    hubErrors: rig.takeErrors(),
    p50: round(r.latencyP50, 1),
    p99: round(r.latencyP99, 1),
    hubCpuUs: stored ? round(hubCpu / stored, 1) : 0,
    brokerCpuUs: broker0 === null || broker1 === null || !stored ? null : round((broker1 - broker0) / stored, 1),
    genCpuPercent,
    machineBusyCores,
    loadStart,
    loadEnd,
  };
  return cell;
}

function counterDelta(
  before: Array<Record<string, number>>,
  after: Array<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  after.forEach((a, i) => {
    for (const [k, v] of Object.entries(a)) {
      if (k !== "queued" && typeof v === "number") out[k] = (out[k] ?? 0) + v - (before[i]?.[k] ?? 0);
    }
  });
  return out;
}

/** Rows of one run: distinct events, the last one's arrival, and rows repeating an id or a device's seq. */
function tally(rows: StoredRow[]): { stored: number; lastStoredAt: number; duplicated: number } {
  const ids = new Set<string>();
  const seqs = new Set<string>();
  let duplicated = 0;
  let lastStoredAt = 0;
  for (const row of rows) {
    const key = `${row.deviceId}:${row.seq}`;
    if (ids.has(row.id) || seqs.has(key)) duplicated++;
    ids.add(row.id);
    seqs.add(key);
    lastStoredAt = Math.max(lastStoredAt, row.receivedAt);
  }
  return { stored: ids.size, lastStoredAt, duplicated };
}

/** Waits until the database holds `expected` events or stops growing for 3 s (at most 120 s). */
async function settle(rig: Rig, expected: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  let last = -1;
  let still = Date.now();
  while (Date.now() < deadline) {
    const n = await rig.count();
    if (n >= expected) return;
    if (n !== last) {
      last = n;
      still = Date.now();
    } else if (Date.now() - still > 3000) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The `ingest` bench section. KENSA_BENCH_INGEST_SECONDS (s of load per run, default 5),
 * KENSA_BENCH_INGEST_DEVICES (default 1,10,50,200) and KENSA_BENCH_INGEST_MODES (mode ids) narrow
 * or lengthen it.
 */
export async function ingestSection(
  _previous: unknown,
  checkpoint: (data: unknown) => Promise<void>,
): Promise<{ markdown: string; data: unknown }> {
  const env = process.env;
  const seconds = Number(env.KENSA_BENCH_INGEST_SECONDS ?? 5);
  const window = 64;
  const deviceCounts = (env.KENSA_BENCH_INGEST_DEVICES ?? "1,10,50,200").split(",").map(Number);
  const wantedModes = env.KENSA_BENCH_INGEST_MODES?.split(",") as ModeId[] | undefined;
  const cells: IngestCell[] = [];
  const run = await runIngest({
    modes: wantedModes,
    deviceCounts,
    seconds,
    window,
    log: (line) => console.error(line),
    onCell: async (cell) => {
      cells.push(cell);
      await checkpoint({ cells, seconds, window, skipped: [] });
    },
  });
  const data = { ...run, seconds, window };
  return { markdown: ingestMarkdown(data), data };
}
