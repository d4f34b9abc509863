/** The ingest section's Markdown: one row per mode, device count and load, then the issue's targets. */
import { cpus } from "node:os";
import { table } from "../report.js";
import type { IngestCell, IngestRun } from "./ingest-types.js";
import { type ModeId, modes } from "./rig.js";

const label = (id: ModeId) => modes.find((m) => m.id === id)?.label ?? id;
const bareOf = (id: ModeId): ModeId =>
  modes.find((m) => m.id === id)?.broker === "aedes" ? "bare-aedes" : "bare-mosquitto";
const fmt = (x: number) => x.toLocaleString("en-US");
const maxCell = (cells: IngestCell[], mode: ModeId, n: number) =>
  cells.find((c) => c.mode === mode && c.devices === n && c.load === "max");

export interface Target {
  name: string;
  pass: boolean | null;
  detail: string;
}

/** The issue's targets, judged on the cells present; null when the run lacks the cells to judge. */
export function ingestTargets(cells: IngestCell[]): Target[] {
  const counts = [...new Set(cells.map((c) => c.devices))].sort((a, b) => a - b);
  const out: Target[] = [];

  const ratios = counts.flatMap((n) => {
    const hub = maxCell(cells, "embedded-sqlite", n);
    const bare = maxCell(cells, "bare-aedes", n);
    return hub && bare && bare.rate > 0 ? [{ n, ratio: hub.rate / bare.rate }] : [];
  });
  out.push({
    name: "embedded Aedes + SQLite ≥ 50 % of the bare Aedes rate",
    pass: ratios.length ? ratios.every((r) => r.ratio >= 0.5) : null,
    detail: ratios.map((r) => `N=${r.n}: ${Math.round(r.ratio * 100)} %`).join(", ") || "not measured",
  });

  const best = (mode: ModeId) =>
    cells.filter((c) => c.mode === mode && c.load === "max").sort((a, b) => b.rate - a.rate)[0];
  const pgBest = best("mosquitto-postgres");
  out.push({
    name: "Mosquitto + PostgreSQL ≥ 5,000 events/s",
    pass: pgBest ? pgBest.rate >= 5000 : null,
    detail: pgBest ? `best ${fmt(pgBest.rate)} events/s (N=${pgBest.devices})` : "not measured",
  });

  const two = best("mosquitto-postgres-x2");
  const twoCells = cells.filter((c) => c.mode === "mosquitto-postgres-x2");
  const sum = (f: (c: IngestCell) => number) => twoCells.reduce((s, c) => s + f(c), 0);
  const twoDup = sum((c) => c.hubDuplicates ?? 0);
  const twoResends = sum((c) => c.resends);
  const twoStored = sum((c) => c.stored);
  const twoFailed = sum((c) => c.hubCounters?.storeFailed ?? 0);
  const twoErrors =
    [...new Set(twoCells.flatMap((c) => Object.keys(c.hubErrors ?? {})))].map((m) => `"${m}"`).join(", ") ||
    "no error logged";
  out.push({
    name: "2 hub replicas ≥ 1.6× one replica (Mosquitto + PostgreSQL, best N of each)",
    pass: two && pgBest && pgBest.rate > 0 ? two.rate / pgBest.rate >= 1.6 : null,
    detail:
      two && pgBest
        ? `${(two.rate / pgBest.rate).toFixed(2)}× (${fmt(two.rate)} vs ${fmt(pgBest.rate)} events/s)` +
          (twoFailed
            ? `; ${fmt(twoFailed)} events were in store batches that failed (${twoErrors}) and waited for their devices to send them again`
            : "") +
          (pgBest.machineBusyCores
            ? `; one replica alone kept ${pgBest.machineBusyCores} of the ${cpus().length} cores busy (hub, Mosquitto, PostgreSQL and the load generator), two kept ${two.machineBusyCores ?? "—"}`
            : "") +
          (twoDup > twoResends
            ? `; the replicas handled ${fmt(twoDup)} deliveries of already stored events beside ${fmt(twoStored)} stored, more than the devices resent: both replicas process the same events`
            : "")
        : "not measured",
  });

  const half = cells.filter((c) => c.load === "half" && !c.mode.startsWith("bare-"));
  const byPuback = half.filter((c) => c.confirm === "puback");
  const slow = half.filter((c) => c.confirm === "hub" && c.p99 > 250);
  const judged = half.filter((c) => c.confirm === "hub");
  out.push({
    name: "p99 publish → stored ≤ 250 ms at half the maximum rate",
    pass: judged.length ? slow.length === 0 : null,
    detail:
      (judged.length
        ? slow.length
          ? `over in ${slow.map((c) => `${label(c.mode)} N=${c.devices} (${c.p99} ms)`).join(", ")}`
          : `every hub mode and N (worst ${Math.max(...judged.map((c) => c.p99))} ms)`
        : "not measured") +
      (byPuback.length ? `; ${byPuback.length} cell(s) confirmed by the broker's PUBACK are not judged` : ""),
  });
  return out;
}

/** `; hub errors: "…" ×n, …` for a cell whose hubs logged errors */
function errorsOf(c: IngestCell): string {
  const list = Object.entries(c.hubErrors ?? {});
  return list.length ? `; hub errors: ${list.map(([m, n]) => `"${m}" ×${n}`).join(", ")}` : "";
}

function authNote(cells: IngestCell[]): string {
  const modesWith = (auth: IngestCell["deviceAuth"]) =>
    [...new Set(cells.filter((c) => c.deviceAuth === auth).map((c) => label(c.mode)))].join(", ");
  return [
    modesWith("hub") && `the embedded broker checks each device's secret and ACL (${modesWith("hub")})`,
    modesWith("dynsec") &&
      `Mosquitto's dynamic-security plugin, with the device accounts the hub keeps (${modesWith("dynsec")})`,
    modesWith("anonymous") && `none (${modesWith("anonymous")})`,
  ]
    .filter(Boolean)
    .join("; ");
}

export function ingestMarkdown(run: IngestRun & { seconds: number; window: number }): string {
  const { cells } = run;
  const rows = cells.map((c) => {
    const bare = maxCell(cells, bareOf(c.mode), c.devices);
    const ratio =
      c.load === "max" && bare && bare.rate > 0 && !c.mode.startsWith("bare-")
        ? `${(c.rate / bare.rate).toFixed(2)}×`
        : "—";
    const isBare = c.mode.startsWith("bare-");
    return [
      label(c.mode),
      c.devices,
      c.load === "max" ? "max" : `½ max (${fmt(c.targetRate ?? 0)}/s)`,
      c.confirm === "hub" ? (isBare ? "subscriber's ack" : "hub ack") : "broker PUBACK",
      fmt(c.rate),
      ratio,
      fmt(c.stored),
      isBare ? "—" : c.lost,
      isBare ? "—" : c.duplicated,
      c.unconfirmed,
      c.p50,
      c.p99,
      c.hubCpuUs,
      c.brokerCpuUs ?? (c.mode.startsWith("embedded-") ? "in hub" : "—"),
      c.genCpuPercent,
      c.machineBusyCores ?? "—",
      `${c.loadStart} → ${c.loadEnd}`,
    ];
  });
  const targets = ingestTargets(cells).map(
    (t) => `- ${t.pass === null ? "—" : t.pass ? "**pass**" : "**fail**"} ${t.name}: ${t.detail}`,
  );
  const trouble = (c: IngestCell) => (c.hubCounters?.storeFailed ?? 0) + (c.hubCounters?.shed ?? 0);
  const replays = cells.filter(
    (c) => (c.hubDuplicates ?? 0) > 0 || c.extraConfirmations > 0 || c.resends > 0 || trouble(c) > 0,
  );
  const notes = [
    `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}) shared by the load generator, the broker, the hub(s) and PostgreSQL; the load average is the 1-minute one at the start and the end of each run.`,
    `Each run: ${run.seconds} s of load, then a drain until every event is confirmed; N devices, each one MQTT connection publishing QoS 1 with at most ${run.window} unconfirmed events and publishing again what stays unconfirmed for 10 s. "max": as fast as confirmations allow; "½ max": a fixed rate of half the maximum just measured for the same mode and N.`,
    "events/s stored: events in the database ÷ (last stored − first published). stored, lost (confirmed to the device but not in the database) and duplicated (rows repeating an id or a device's seq) are counted by event id in the hub's database. kept: events still unconfirmed when the drain ended (the device keeps them; not lost). p50/p99: first publish → confirmation the device deletes on.",
    'Confirmed by: "hub ack" is the hub\'s acks message after its commit; "broker PUBACK" marks a hub that does not confirm (no `eventAcks` in desired state), where the latency is the broker\'s and not storage; against a bare broker a subscriber process answers every event with the acks message at once and stores nothing.',
    "CPU: user + system µs of the hub processes (the bare subscriber for bare brokers; the embedded broker is inside the hub) and of a separate broker process, per stored event; PostgreSQL's own processes are not counted. load gen. CPU %: the load generator's share of one core over the run and its drain; near 100 the generator, not the hub, limits the rate. machine busy: cores the whole machine kept busy over the run and its drain (every process, PostgreSQL's included; /proc/stat).",
    `Mosquitto runs on a free port with a config of the bench's own and \`max_queued_messages 1000000\` (its default 1000 drops QoS 1 messages for a subscriber that falls behind). Device authentication: ${authNote(cells)}.`,
  ];
  if (replays.length) {
    notes.push(
      `Replays: ${replays
        .map(
          (c) =>
            `${label(c.mode)} N=${c.devices} ${c.load}: ${c.resends} resends, ${c.extraConfirmations} extra confirmations, ` +
            `${c.hubDuplicates ?? 0} duplicate deliveries at the hub, ${c.hubCounters?.storeFailed ?? 0} events in failed ` +
            `store batches, ${c.hubCounters?.shed ?? 0} shed for a full ingest queue` +
            errorsOf(c),
        )
        .join("; ")}.`,
    );
  }
  return [
    table(
      [
        "mode",
        "N",
        "load",
        "confirmed by",
        "events/s stored",
        "× bare broker",
        "stored",
        "lost",
        "dup.",
        "kept",
        "p50 ms",
        "p99 ms",
        "hub CPU µs/event",
        "broker CPU µs/event",
        "load gen. CPU %",
        "machine busy (cores)",
        "load avg",
      ],
      rows,
    ),
    "",
    "Targets:",
    "",
    ...targets,
    "",
    ...notes.map((n) => `- ${n}`),
    ...(run.skipped.length ? ["", `Skipped: ${run.skipped.join("; ")}.`] : []),
  ].join("\n");
}
