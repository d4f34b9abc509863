import type { FsckReport } from "@kensa/hub";
import type { Command } from "commander";
import { parseDuration } from "../duration.js";

interface FsckFlags {
  config?: string;
  dataDir?: string;
  databaseUrl?: string;
  schema?: string;
  repair?: boolean;
  json?: boolean;
  orphanGrace: string;
}

/** items of each kind listed under the summary table (all of them with --json) */
const LISTED = 20;

/**
 * `kensa hub fsck [--repair] [--json]`: checks the hub's blobs against its database — content
 * not matching its sha256, rows naming absent blobs, blobs nothing names, early media whose
 * event never came — and fixes them with --repair. Runs on the data dir and database directly,
 * beside a running hub or without one. Exits 1 while problems remain.
 */
export function registerFsckCommand(program: Command): void {
  const hub = program.commands.find((c) => c.name() === "hub");
  if (!hub) throw new Error("register the hub command before its fsck");
  const fsck = hub
    .command("fsck")
    .description("check blobs against the database (corrupt, missing, orphaned); --repair fixes them")
    .option("--repair", "quarantine corrupt blobs, mark missing ones, delete orphans past the grace")
    .option("--orphan-grace <duration>", "keep unreferenced blobs younger than this (an upload in flight)", "168h")
    .option("--database-url <url>", "the hub's PostgreSQL database (else the config's, else SQLite in the data dir)")
    .option("--schema <name>", "with --database-url: the hub's schema")
    .option("--json", "print the whole report as JSON")
    .addHelpText("after", "\nThe hub's -c/--config and --data-dir (given before or after fsck) say where its data is.");
  fsck.action(async () => {
    const o = fsck.optsWithGlobals<FsckFlags>();
    const { fsckClean, fsckOffline, loadHubConfig } = await import("@kensa/hub");
    const overrides: Record<string, unknown> = {};
    if (o.dataDir) overrides.dataDir = o.dataDir;
    if (o.databaseUrl) {
      overrides.database = { type: "postgres", url: o.databaseUrl, ...(o.schema ? { schema: o.schema } : {}) };
    }
    const config = await loadHubConfig(o.config, process.env, overrides);
    const report = await fsckOffline(config, { repair: !!o.repair, orphanGraceMs: parseDuration(o.orphanGrace) });
    console.log(o.json ? JSON.stringify(report, null, 2) : describeFsck(report, config.dataDir));
    if (!fsckClean(report)) process.exitCode = 1;
  });
}

/** The summary table and the first items of each kind, as a person reads them. */
export function describeFsck(r: FsckReport, dataDir: string): string {
  const count = (items: Array<{ action: string }>) => {
    const by = new Map<string, number>();
    for (const i of items) by.set(i.action, (by.get(i.action) ?? 0) + 1);
    return [...by].map(([action, n]) => `${n} ${action}`).join(", ") || "-";
  };
  const rows: Array<[string, number | string, string]> = [
    ["blobs checked", r.checked.blobs, `${(r.checked.bytes / 1024 / 1024).toFixed(1)} MiB`],
    ["corrupt (content ≠ sha256)", r.corrupt.length, count(r.corrupt)],
    ["missing (named, absent)", r.missing.length, count(r.missing)],
    ["orphan blobs (named nowhere)", r.orphanBlobs.length, count(r.orphanBlobs)],
    ["orphan early media", r.orphanEarlyMedia.length, count(r.orphanEarlyMedia)],
    ["problems since fixed", r.resolvedProblems.length, count(r.resolvedProblems)],
    ["in quarantine", r.quarantined, ""],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `kensa hub fsck ${dataDir} (${r.repair ? "repair" : "report only; --repair fixes"})`,
    `${"check".padEnd(w)}  ${"found".padStart(7)}  action`,
    ...rows.map(([k, n, a]) => `${k.padEnd(w)}  ${String(n).padStart(7)}  ${a}`),
  ];
  const list = (title: string, items: string[]) => {
    if (!items.length) return;
    lines.push("", `${title}:`, ...items.slice(0, LISTED).map((i) => `  ${i}`));
    if (items.length > LISTED) lines.push(`  … and ${items.length - LISTED} more (--json lists all)`);
  };
  list(
    "corrupt",
    r.corrupt.map((c) => `${c.sha256} ${c.size} B ${c.action}`),
  );
  list(
    "missing",
    r.missing.map((m) => `${m.sha256} named by ${m.referencedBy.join(", ")} ${m.action}`),
  );
  list(
    "orphan blobs",
    r.orphanBlobs.map((b) => `${b.sha256} ${b.size} B stored ${b.storedAt} ${b.action}`),
  );
  list(
    "orphan early media",
    r.orphanEarlyMedia.map((e) => `${e.kind} of event ${e.eventId} from ${e.deviceId} ${e.action}`),
  );
  return lines.join("\n");
}
