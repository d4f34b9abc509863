import { type AuditVerifyReport, peopleRoutes } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";

interface VerifyFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
  offline?: boolean;
  config?: string;
  databaseUrl?: string;
  schema?: string;
  publicKey?: string;
  json?: boolean;
}

/** `kensa audit verify`: checks the audit log's hash chain, through the hub or offline. */
export function registerAuditCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const audit = program.command("audit").description("the audit log");
  const verify = hubOpts(
    audit
      .command("verify")
      .description("check the audit log's hash chain, head and anchors; exits 1 and names the first broken entry")
      .option("--offline", "read the hub's database and data dir directly instead of asking the hub")
      .option("-c, --config <file>", "with --offline: the hub config (its database and data dir)")
      .option(
        "--database-url <url>",
        "with --offline: the hub's PostgreSQL database (SQLite in the data dir otherwise)",
      )
      .option("--schema <name>", "with --offline and --database-url: the hub's schema")
      .option("--public-key <file>", "with --offline: check anchor signatures with this PEM public key")
      .option("--json", "print the report as JSON"),
  );
  verify.action(async (o: VerifyFlags) => {
    const report = o.offline
      ? await verifyOffline(o, verify.getOptionValueSource("dataDir") !== "default")
      : await hubClientFrom(o).call(peopleRoutes.auditVerify, {});
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else console.log(describeReport(report));
    if (report.problem) {
      const p = report.problem;
      console.error(`error KENSA_ERR_AUDIT_CHAIN_BROKEN: entry ${p.seq} (${p.fault}): ${p.message}`);
      process.exitCode = 1;
    }
  });
}

async function verifyOffline(o: VerifyFlags, dataDirGiven: boolean): Promise<AuditVerifyReport> {
  // loaded when asked for: only the offline check needs the hub's database drivers
  const { loadHubConfig, verifyAuditOffline } = await import("@kensa/hub");
  const overrides: Record<string, unknown> = {};
  if (dataDirGiven || !o.config) overrides.dataDir = o.dataDir;
  if (o.databaseUrl) {
    overrides.database = { type: "postgres", url: o.databaseUrl, ...(o.schema ? { schema: o.schema } : {}) };
  }
  const config = await loadHubConfig(o.config, process.env, overrides);
  return verifyAuditOffline({
    dataDir: config.dataDir,
    database: config.database,
    ...(o.publicKey ? { publicKeyFile: o.publicKey } : {}),
  });
}

/** One paragraph a person reads: what was checked and whether it holds. */
export function describeReport(r: AuditVerifyReport): string {
  const anchors =
    r.anchors === 0
      ? "no anchor written yet"
      : `${r.anchors} anchors${r.signedAnchors === r.anchors ? ", all signed" : r.signedAnchors === 0 ? " (signatures not checked: no public key)" : `, ${r.signedAnchors} signed`}` +
        (r.lastAnchor ? `, the newest at entry ${r.lastAnchor.seq} (${r.lastAnchor.at})` : "");
  const state = r.ok ? "intact" : `BROKEN at entry ${r.problem?.seq} (${r.problem?.fault})`;
  return `audit chain ${state}: ${r.entries} entries checked, last entry ${r.lastSeq} (${r.lastHash.slice(0, 12)}…); ${anchors}`;
}
