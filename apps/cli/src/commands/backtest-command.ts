import {
  BACKTEST_DEFAULT_LIMIT,
  BACKTEST_MAX_LIMIT,
  type Backtest,
  type BacktestCounts,
  type BacktestReport,
  backtestRoutes,
} from "@kensa/contracts";
import type { Command } from "commander";
import { intFlag } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";
import { resolveModel } from "../resolve.js";
import { ago, formatTable, printList } from "../table.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}

interface RunFlags extends HubFlags {
  project?: string;
  since?: string;
  until?: string;
  limit?: number;
  device?: string[];
  captures: boolean;
  wait: boolean;
  json?: boolean;
}

/** ms between looks at a running backtest */
const POLL_MS = 500;

/** "7d", "12h", "30m" back from now, or an ISO time, as ISO. */
export function backtestTime(flag: string, nowMs = Date.now()): (value: string) => string {
  return (value) => {
    const rel = /^(\d+)(d|h|m)$/.exec(value.trim());
    if (rel) {
      const unit = rel[2] === "d" ? 86_400_000 : rel[2] === "h" ? 3_600_000 : 60_000;
      return new Date(nowMs - Number(rel[1]) * unit).toISOString();
    }
    const t = Date.parse(value);
    if (!Number.isFinite(t))
      throw new Error(`${flag}: "${value}" is neither a time (ISO) nor an age like 7d, 12h, 30m`);
    return new Date(t).toISOString();
  };
}

/** `kensa backtest run | show | list` */
export function registerBacktestCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const bt = program
    .command("backtest")
    .description(
      "replay archived frames through a candidate model and its rules; compare with the champion and verdicts",
    );

  hubOpts(
    bt
      .command("run")
      .description("backtest a model version on its project's archived frames (incident frames, captures)")
      .argument("<model>", "model version id, or <name>@<version>")
      .option("--project <project>", "the project whose frames to replay (default: the model's)")
      .option(
        "--since <time>",
        "frames from this time or age (e.g. 7d; default: 30 days before --until)",
        backtestTime("--since"),
      )
      .option("--until <time>", "frames before this time or age (default: now)", backtestTime("--until"))
      .option(
        "--limit <n>",
        `the most recent frames, at most (default ${BACKTEST_DEFAULT_LIMIT}, max ${BACKTEST_MAX_LIMIT})`,
        intFlag("--limit", 1, BACKTEST_MAX_LIMIT),
      )
      .option("--device <id...>", "only these devices' frames")
      .option("--no-captures", "leave out the frames devices captured for learning")
      .option("--no-wait", "queue it and return")
      .option("--json", "print the backtest as JSON"),
  ).action(async (ref: string, o: RunFlags) => {
    const client = hubClientFrom(o);
    const model = await resolveModel(client, ref);
    let b = await client.call(backtestRoutes.create, {
      params: { id: o.project ?? model.projectId },
      body: {
        modelVersionId: model.id,
        ...(o.since ? { since: o.since } : {}),
        ...(o.until ? { until: o.until } : {}),
        ...(o.limit ? { limit: o.limit } : {}),
        ...(o.device?.length ? { deviceIds: o.device } : {}),
        captures: o.captures,
      },
    });
    if (!o.json) console.error(`backtest ${b.id} queued (job ${b.jobId})`);
    while (o.wait && (b.status === "queued" || b.status === "running")) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      b = await client.call(backtestRoutes.get, { params: { id: b.id } });
    }
    print(b, o.json);
    if (b.status === "failed") process.exitCode = 1;
  });

  hubOpts(
    bt
      .command("show")
      .description("a backtest and its report")
      .argument("<id>", "backtest id")
      .option("--frames <change>", "also list its frames of this change: added, removed, same, unknown")
      .option("--json", "print JSON"),
  ).action(async (id: string, o: HubFlags & { json?: boolean; frames?: string }) => {
    const client = hubClientFrom(o);
    const b = await client.call(backtestRoutes.get, { params: { id } });
    if (!o.frames) {
      print(b, o.json);
      return;
    }
    const change = o.frames as "added" | "removed" | "same" | "unknown";
    const { items } = await client.call(backtestRoutes.frames, {
      params: { id },
      query: { change, limit: BACKTEST_MAX_LIMIT },
    });
    if (o.json) {
      console.log(JSON.stringify({ ...b, frames: items }, null, 2));
      return;
    }
    print(b, false);
    console.log(`\nframes (${change})`);
    printList(
      items,
      [
        { header: "ts", value: (f) => f.ts },
        { header: "device", value: (f) => f.deviceId },
        { header: "kind", value: (f) => f.kind },
        { header: "champion", value: (f) => (f.champion ? (f.champion.incident ? "incident" : "-") : "?") },
        { header: "candidate", value: (f) => (f.candidate.incident ? `incident (${f.candidate.rule})` : "-") },
        { header: "truth", value: (f) => (f.truth ? `${f.truth.source}: ${f.truth.finding ? "finding" : "ok"}` : "") },
        { header: "frame", value: (f) => f.frameId },
      ],
      {},
      `${change} frames`,
    );
  });

  hubOpts(
    bt
      .command("list")
      .description("a project's backtests, newest first")
      .requiredOption("--project <project>", "project id, slug or name")
      .option("--json", "print JSON"),
  ).action(async (o: HubFlags & { project: string; json?: boolean }) => {
    const { items } = await hubClientFrom(o).call(backtestRoutes.list, {
      params: { id: o.project },
      query: { limit: 50 },
    });
    printList(
      items,
      [
        { header: "id", value: (b) => b.id },
        { header: "model", value: (b) => b.modelVersionId },
        { header: "status", value: (b) => b.status },
        { header: "frames", value: (b) => b.report?.totals.frames },
        { header: "added", value: (b) => b.report?.totals.incidents.added },
        { header: "removed", value: (b) => b.report?.totals.incidents.removed },
        { header: "created", value: (b) => ago(b.createdAt) },
      ],
      o,
      "backtests (kensa backtest run <model>)",
    );
  });
}

function print(b: Backtest, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(b, null, 2));
    return;
  }
  console.log(`backtest ${b.id} of ${b.modelVersionId}: ${b.status}`);
  if (b.error) console.log(`  ${b.error.code}: ${b.error.message}`);
  if (b.report) for (const l of reportLines(b.report)) console.log(l);
}

/** The report as text: what was looked at, the comparison, then per day and device. */
export function reportLines(r: BacktestReport): string[] {
  const x = r.bounds;
  const t = r.totals;
  const lines = [
    `frames     ${x.since} … ${x.until}, the most recent ${x.limit} (max ${x.maxLimit})` +
      `${x.deviceIds ? ` of ${x.deviceIds.join(", ")}` : ""}${x.captures ? ", captures included" : ""}`,
    `           ${x.inWindow} in the window${x.truncated ? `; only the most recent ${x.limit} replayed` : ""}`,
    `replayed   ${t.frames} frames (${t.judged} with a human verdict), ${t.skipped} skipped` +
      `${Object.entries(r.skippedByReason)
        .map(([k, n]) => `, ${n} ${k}`)
        .join("")}; ${r.framesPerSecond.toFixed(1)} frames/s`,
    `rules      ${r.rules.map((u) => u.name).join("; ") || "none (no label of the model can fire the project's rule)"}`,
    `champion   ${r.championModelIds.join(", ") || "(no recorded decision)"}`,
    "",
    formatTable(
      [
        ["incidents", t.champion.incidents, t.candidate.incidents, `+${t.incidents.added} −${t.incidents.removed}`],
        [
          "false alarms",
          t.champion.falseAlarms,
          t.candidate.falseAlarms,
          `+${t.falseAlarms.added} −${t.falseAlarms.removed}`,
        ],
        ["misses", t.champion.misses, t.candidate.misses, `+${t.misses.added} −${t.misses.removed}`],
      ],
      [
        { header: "", value: (row) => row[0] },
        { header: "champion", value: (row) => row[1] },
        { header: "candidate", value: (row) => row[2] },
        { header: "change", value: (row) => row[3] },
      ],
    ),
  ];
  const group = (title: string, rows: Array<{ key: string } & BacktestCounts>) => {
    if (rows.length === 0) return;
    lines.push("", title);
    lines.push(
      formatTable(rows, [
        { header: "", value: (g) => g.key },
        { header: "frames", value: (g) => g.frames },
        { header: "skipped", value: (g) => g.skipped },
        { header: "incidents +/−", value: (g) => `+${g.incidents.added} −${g.incidents.removed}` },
        { header: "false alarms", value: (g) => `${g.champion.falseAlarms} → ${g.candidate.falseAlarms}` },
        { header: "misses", value: (g) => `${g.champion.misses} → ${g.candidate.misses}` },
      ]),
    );
  };
  group("per day", r.perDay);
  group("per device", r.perDevice);
  if (r.skipped.length > 0) {
    lines.push("", "skipped");
    for (const s of r.skipped.slice(0, 20))
      lines.push(`  ${s.ts}  ${s.deviceId ?? "-"}  ${s.frameId}  ${s.reason}: ${s.detail}`);
    if (r.skipped.length > 20) lines.push(`  … and ${r.skipped.length - 20} more (--json)`);
  }
  return lines;
}
