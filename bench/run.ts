/**
 * `npm run bench [-- <section> ...]`: measures Kensa on this machine and writes BENCHMARKS.md
 * and bench/results.json. Never part of `npm test`: numbers are reported, not asserted.
 * Naming sections re-runs only those and keeps the others' last results; `quality` (hours of
 * training) runs only when named.
 */
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { agentMemoryRows } from "./agent-memory.js";
import { backtestSection } from "./backtest.js";
import { datasetImportSection } from "./datasets.js";
import { federationSection } from "./federation.js";
import { fuzzSection } from "./fuzz.js";
import { goldenParitySection } from "./golden-parity.js";
import { ingestSection } from "./ingest.js";
import { frameToStoredEvent, inferenceLatency } from "./loop-latency.js";
import { qualitySection } from "./quality.js";
import { queriesSection } from "./queries.js";
import { rowsTable, type Section } from "./report.js";
import { siteFanoutSection } from "./rollout/site-fanout.js";
import { rolloutSection } from "./rollout.js";
import { synthSpeedSection } from "./synth.js";
import { tilingSection } from "./tiling.js";
import { visionSpeedRows } from "./vision-speed.js";
import { workersSection } from "./workers.js";

/** `checkpoint` keeps partial data in results.json, so a long section that is stopped keeps what it finished. */
type Producer = (
  previousData: unknown,
  checkpoint: (data: unknown) => Promise<void>,
) => Promise<{ markdown: string; data: unknown } | null>;

/** `optIn` sections run only when named (they take long); the others run by default. */
const sections: Array<Omit<Section, "markdown" | "data"> & { run: Producer; optIn?: boolean }> = [
  {
    id: "loop",
    title: "The loop: agent inference and frame → stored event",
    command: "npm run bench -- loop",
    run: async () => {
      const rows = [
        ...(await inferenceLatency()),
        await frameToStoredEvent(Number(process.env.KENSA_BENCH_SECONDS ?? 30)),
      ];
      return { markdown: rowsTable(rows), data: rows };
    },
  },
  {
    id: "vision",
    title: "Vision speed on camera frames (ResNet18, U-Net) against the published reference",
    command: "npm run bench -- vision",
    run: async () => {
      const rows = await visionSpeedRows();
      return { markdown: rowsTable(rows), data: rows };
    },
  },
  {
    id: "memory",
    title: "Agent resident memory with ResNet18 deployed (a real agent process)",
    command: "npm run bench -- memory",
    run: async () => {
      const rows = await agentMemoryRows();
      return rows.length ? { markdown: rowsTable(rows), data: rows } : null;
    },
  },
  {
    id: "ingest",
    title: "Event ingest: throughput, publish → stored latency, loss and duplicates per deployment mode",
    command: "npm run bench -- ingest",
    run: ingestSection,
  },
  { id: "synth", title: "Synthetic camera speed", command: "npm run bench -- synth", run: synthSpeedSection },
  {
    id: "tiling",
    title: "Tiling: small defects on large frames, accuracy and latency tiled against whole frames",
    command: "npm run bench -- tiling",
    run: tilingSection,
    optIn: true,
  },
  {
    id: "datasets",
    title: "Real dataset imports",
    command: "npm run bench -- datasets",
    run: datasetImportSection,
  },
  { id: "fuzz", title: "Fuzzing: generated cases per target", command: "npm run bench -- fuzz", run: fuzzSection },
  {
    id: "golden-parity",
    title: "Golden-frame self-test parity: int8 against fp32, and arm64 (qemu-user) against bundles built on x64",
    command: "npm run bench -- golden-parity",
    run: goldenParitySection,
  },
  {
    id: "federation",
    title: "Site ⇄ central catch-up after an hour offline",
    command: "npm run bench -- federation",
    run: federationSection,
  },
  {
    id: "rollout",
    title: "Fan-out: a 10 MB model to 1,000 simulated devices",
    command: "npm run bench -- rollout",
    run: rolloutSection,
  },
  {
    id: "site-fanout",
    title: "Fan-out through a site hub: one copy of the model over the uplink",
    command: "npm run bench -- site-fanout",
    run: siteFanoutSection,
  },
  {
    id: "queries",
    title: "Event and incident lists and counts on a large store (10 M events)",
    command: "npm run bench -- queries",
    run: queriesSection,
    // filling 10 M events takes minutes; KENSA_BENCH_EVENTS=1000000 for a quick run
    optIn: true,
  },
  {
    id: "quality",
    title: "Model quality on the real datasets (training from scratch on this machine)",
    command: "npm run bench -- quality",
    run: qualitySection,
    optIn: true,
  },
  {
    id: "backtest",
    title: "Backtest: archived incident frames replayed through a candidate on the hub",
    command: "npm run bench -- backtest",
    run: backtestSection,
  },
  {
    id: "workers",
    title: "Worker throughput: evaluate jobs on the hub and on 1 and 2 `kensa worker` processes",
    command: "npm run bench -- workers",
    run: workersSection,
    // starts hubs and worker processes for minutes: only when named
    optIn: true,
  },
];

const resultsPath = join(import.meta.dirname, "results.json");
interface Results {
  machine: Record<string, string | number>;
  sections: Record<string, Section>;
}
const previous: Results | null = existsSync(resultsPath)
  ? (JSON.parse(readFileSync(resultsPath, "utf8")) as Results)
  : null;
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !sections.some((s) => s.id === w));
if (unknown.length) {
  console.error(`unknown section(s): ${unknown.join(", ")}; known: ${sections.map((s) => s.id).join(", ")}`);
  process.exit(2);
}

const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
const out: Results = { machine, sections: { ...(previous?.sections ?? {}) } };
for (const s of sections) {
  if (wanted.length ? !wanted.includes(s.id) : s.optIn) continue;
  console.error(`bench: ${s.id} …`);
  const load = Math.round(loadavg()[0]! * 10) / 10;
  const checkpoint = async (data: unknown) => {
    const kept = out.sections[s.id];
    out.sections[s.id] = {
      id: s.id,
      title: s.title,
      command: s.command,
      markdown: kept?.markdown ?? "",
      ...kept,
      data,
    };
    await writeFile(resultsPath, `${JSON.stringify(out, null, 2)}\n`);
  };
  const r = await s.run(previous?.sections[s.id]?.data ?? null, checkpoint);
  if (!r) {
    console.error(`bench: ${s.id} skipped (its inputs are missing)`);
    continue;
  }
  out.sections[s.id] = {
    id: s.id,
    title: s.title,
    command: s.command,
    date: new Date().toISOString(),
    load,
    cpu: machine.cpu,
    ...r,
  };
}
await writeFile(resultsPath, `${JSON.stringify(out, null, 2)}\n`);

const body = sections
  .map((s) => out.sections[s.id])
  .filter((s): s is Section => !!s)
  .map(
    (s) =>
      `## ${s.title}\n\nMeasured ${s.date} on ${s.cpu ?? "?"} (1-min load average ${s.load ?? "?"} at the start) · re-run: \`${s.command}\`\n\n${s.markdown}\n`,
  )
  .join("\n");
const md = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); do not edit by hand. Latencies are medians (p50)
and 95th percentiles over n samples; references are named beside each row.

Machine of the latest run: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}.
Machines of one kind differ in CPU (and in speed by up to 2× on one thread), so each section
names the CPU it was measured on; compare figures within a section.

${body}`;
await writeFile(join(import.meta.dirname, "..", "BENCHMARKS.md"), md);
console.log(md);
