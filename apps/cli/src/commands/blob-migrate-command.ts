import { KensaError } from "@kensa/contracts";
import type { BlobMigrateReport } from "@kensa/hub";
import type { Command } from "commander";
import { intFlag } from "../cli-input.js";

interface MigrateFlags {
  config?: string;
  dataDir?: string;
  to: string;
  from?: string;
  state?: string;
  restart?: boolean;
  parallel?: number;
  json?: boolean;
}

/** failed blobs listed under the summary (all of them with --json) */
const LISTED = 20;

/**
 * `kensa hub blobs migrate --to <file>`: copies every blob of the hub's store into another one
 * (fs → S3, S3 → fs, bucket → bucket), hashing each where it is read and where it is written.
 * Resumable; prints counts and bytes; exits non-zero while blobs are left uncopied.
 */
export function registerBlobMigrateCommand(program: Command): void {
  const hub = program.commands.find((c) => c.name() === "hub");
  if (!hub) throw new Error("register the hub command before its blobs commands");
  const blobs = hub.command("blobs").description("the hub's blob store (docs/storage.md)");
  const migrate = blobs
    .command("migrate")
    .description("copy every blob into another store, verifying every hash; resumable")
    .requiredOption("--to <file>", 'JSON with the target `blobs` section (a hub config, or {"kind": "s3", "s3": {…}})')
    .option("--from <file>", "JSON with the source `blobs` section (else the hub config's)")
    .option("--state <file>", "progress file a rerun resumes from (default <dataDir>/blob-migrate.json)")
    .option("--restart", "ignore the progress file and look at every blob again")
    .option("--parallel <n>", "blobs copied at once", intFlag("--parallel", 1, 64), 4)
    .option("--json", "print the whole report as JSON")
    .addHelpText(
      "after",
      "\nThe hub's -c/--config and --data-dir (given before or after) say where its data and current store are.\nThen set `blobs` in the hub config to the target and restart the hub.",
    );
  migrate.action(async () => {
    const o = migrate.optsWithGlobals<MigrateFlags>();
    const { loadHubConfig, migrateBlobsOffline, readBlobsConfig } = await import("@kensa/hub");
    const config = await loadHubConfig(o.config, process.env, o.dataDir ? { dataDir: o.dataDir } : {});
    const to = await readBlobsConfig(o.to);
    const from = o.from ? await readBlobsConfig(o.from) : undefined;
    const started = Date.now();
    const report = await migrateBlobsOffline(config, {
      to,
      ...(from ? { from } : {}),
      ...(o.state ? { stateFile: o.state } : {}),
      ...(o.restart ? { restart: true } : {}),
      ...(o.parallel ? { parallel: o.parallel } : {}),
      onProgress: (r) => {
        if (!o.json && process.stderr.isTTY) {
          process.stderr.write(
            `\r${r.listed} blobs: ${r.copied} copied, ${r.present} present, ${r.failed.length} failed`,
          );
        }
      },
    });
    if (!o.json && process.stderr.isTTY) process.stderr.write("\n");
    console.log(o.json ? JSON.stringify(report, null, 2) : describeMigrate(report, Date.now() - started));
    if (report.failed.length) {
      throw new KensaError(
        "KENSA_ERR_BLOB_MIGRATE_FAILED",
        `${report.failed.length} blobs were not copied; fix them and run the command again (it resumes)`,
      );
    }
  });
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** The summary table and the first failures, as a person reads them. */
export function describeMigrate(r: BlobMigrateReport, ms: number): string {
  const rows: Array<[string, number, string]> = [
    ["looked at", r.listed, r.resumedAfter ? `resumed after ${r.resumedAfter.slice(0, 12)}…` : ""],
    ["copied and verified", r.copied, mib(r.bytesCopied)],
    ["already there, verified", r.present, mib(r.bytesPresent)],
    ["corrupt in the target, replaced", r.repaired, ""],
    ["gone from the source meanwhile", r.vanished, ""],
    ["not copied", r.failed.length, ""],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const rate = ms > 0 ? `${mib((r.bytesCopied / ms) * 1000)}/s` : "";
  const lines = [
    `kensa hub blobs migrate ${r.from} → ${r.to} (${(ms / 1000).toFixed(1)} s${rate ? `, ${rate}` : ""})`,
    ...rows.map(([k, n, a]) => `${k.padEnd(w)}  ${String(n).padStart(7)}  ${a}`),
  ];
  if (r.failed.length) {
    lines.push(
      "",
      "not copied:",
      ...r.failed.slice(0, LISTED).map((f) => `  ${f.sha256} ${f.size} B ${f.reason}: ${f.code}`),
    );
    if (r.failed.length > LISTED) lines.push(`  … and ${r.failed.length - LISTED} more (--json lists all)`);
  }
  return lines.join("\n");
}
