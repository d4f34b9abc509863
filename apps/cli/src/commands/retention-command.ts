import type { KensaClient } from "@kensa/client";
import {
  type LegalHold,
  RETENTION_KINDS,
  type RetentionLimitOverride,
  type RetentionOverride,
  type RetentionPolicy,
  type RetentionRun,
  retentionRoutes,
} from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "none" lifts the limit (null), "default" follows the hub's default (the key is removed), else days: "30" or "30d". */
export function parseAge(text: string): number | null | "default" {
  const t = text.trim().toLowerCase();
  if (t === "none" || t === "default") return t === "none" ? null : "default";
  const m = /^(\d+)d?$/.exec(t);
  if (!m || Number(m[1]) < 1) throw new Error(`not an age in days: "${text}" (use e.g. 30 or 30d, none, default)`);
  return Number(m[1]);
}

/** "none", "default", or bytes: "1048576", "500MB", "10G", "2TiB" (powers of 1024). */
export function parseBytes(text: string): number | null | "default" {
  const t = text.trim().toLowerCase();
  if (t === "none" || t === "default") return t === "none" ? null : "default";
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/.exec(t);
  if (!m) throw new Error(`not a size: "${text}" (use e.g. 500MB, 10GB, none, default)`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** The project's own settings with the flags applied; a key set to "default" is removed. */
export function applyFlags(
  current: RetentionOverride,
  flags: Partial<Record<string, number | null | "default">>,
): RetentionOverride {
  const out: RetentionOverride = structuredClone(current);
  for (const kind of RETENTION_KINDS) {
    const own: RetentionLimitOverride = { ...(out[kind] ?? {}) };
    for (const [key, flag] of [
      ["maxAgeDays", `${kind}MaxAge`],
      ["maxBytes", `${kind}MaxBytes`],
    ] as const) {
      const v = flags[flag];
      if (v === undefined) continue;
      if (v === "default") delete own[key];
      else own[key] = v;
    }
    if (Object.keys(own).length > 0) out[kind] = own;
    else delete out[kind];
  }
  return out;
}

const fmtBytes = (n: number | null) => {
  if (n === null) return "no limit";
  const [unit, div] = n >= 1024 ** 3 ? ["GiB", 1024 ** 3] : n >= 1024 ** 2 ? ["MiB", 1024 ** 2] : ["KiB", 1024];
  return n < 1024 ? `${n} B` : `${(n / div).toFixed(1)} ${unit}`;
};

/** The policy as a person reads it: whether retention runs at all, then each kind's limits and where they come from. */
export function formatPolicy(p: RetentionPolicy): string {
  const lines = [
    p.enabled
      ? `retention is ON on this hub: applied every ${p.everyMinutes} min`
      : "retention is OFF on this hub (retention.enabled is false): nothing is deleted unless a run is requested",
    `legal holds in force: ${p.activeHolds}`,
    `${"kind".padEnd(9)} ${"max age".padEnd(22)} max bytes`,
  ];
  for (const kind of RETENTION_KINDS) {
    const e = p.effective[kind];
    const age = `${e.maxAgeDays === null ? "no limit" : `${e.maxAgeDays} days`} (${e.from.maxAgeDays})`;
    lines.push(`${kind.padEnd(9)} ${age.padEnd(22)} ${fmtBytes(e.maxBytes)} (${e.from.maxBytes})`);
  }
  if (p.updatedBy) lines.push(`set by ${p.updatedBy} at ${p.updatedAt}`);
  return lines.join("\n");
}

const fmtHold = (h: LegalHold) =>
  `${h.id}  ${h.scope.padEnd(8)} ${h.targetId}  ${h.releasedAt ? `released ${h.releasedAt} by ${h.releasedBy}` : "IN FORCE"}  ` +
  `(${h.createdBy}, ${h.createdAt}): ${h.reason}`;

const fmtRun = (r: RetentionRun) => {
  const d = r.deleted;
  const k = r.kept;
  return (
    `${r.id}  ${r.startedAt}  ${r.trigger.padEnd(8)} on ${r.holder}\n` +
    `  deleted: ${d.events} events, ${d.frames} frames, ${d.deviceFrames} device frames, ${d.clips} clips, ${d.captures} captures, ` +
    `${d.blobs} blobs (${fmtBytes(r.bytesFreed)})\n` +
    `  kept: ${k.openIncident} open-incident, ${k.incidentEvent} incident events, ${k.legalHold} held, ${k.snapshot} in snapshots, ` +
    `${k.labeled} labeled captures, ${k.sharedBlob} shared blobs` +
    (r.failed.length
      ? `\n  failed: ${r.failed.map((f) => `${f.projectId}/${f.kind} ${f.code}: ${f.message}`).join("; ")}`
      : "")
  );
};

/** `kensa retention show | set | holds | hold | release | run | runs` */
export function registerRetentionCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const ret = program
    .command("retention")
    .description("how long the hub keeps events, frames, clips and captures; legal holds");
  const client = (o: HubFlags): KensaClient => hubClientFrom(o);

  hubOpts(
    ret
      .command("show")
      .description("a project's retention limits, as set and in effect")
      .requiredOption("--project <project>", "project id, slug or name"),
  ).action(async (o: { project: string } & HubFlags) => {
    console.log(formatPolicy(await client(o).call(retentionRoutes.get, { params: { id: o.project } })));
  });

  const set = ret
    .command("set")
    .description(
      "change a project's limits: days or 30d / sizes like 500MB, 10GB; `none` lifts a limit, `default` follows the hub",
    )
    .requiredOption("--project <project>", "project id, slug or name");
  for (const kind of RETENTION_KINDS) {
    set.addOption(new Option(`--${kind}-max-age <days>`, `${kind}: max age`).argParser(parseAge));
    set.addOption(new Option(`--${kind}-max-bytes <size>`, `${kind}: size budget`).argParser(parseBytes));
  }
  hubOpts(set).action(async (o: { project: string } & HubFlags & Record<string, number | null | "default">) => {
    const c = client(o);
    const current = await c.call(retentionRoutes.get, { params: { id: o.project } });
    const body = applyFlags(current.override, o);
    console.log(formatPolicy(await c.call(retentionRoutes.set, { params: { id: o.project }, body })));
  });

  hubOpts(
    ret
      .command("holds")
      .description("a project's legal holds")
      .requiredOption("--project <project>", "project id, slug or name"),
  ).action(async (o: { project: string } & HubFlags) => {
    const { items } = await client(o).call(retentionRoutes.holds, { params: { id: o.project } });
    for (const h of items) console.log(fmtHold(h));
    if (items.length === 0) console.log("no legal holds");
  });

  hubOpts(
    ret
      .command("hold")
      .description("place a legal hold: retention deletes nothing it covers until it is released")
      .requiredOption("--project <project>", "project id, slug or name")
      .addOption(
        new Option("--scope <scope>", "what is held").choices(["project", "device", "incident"]).default("project"),
      )
      .option("--target <id>", "the device or incident id (scope device or incident)")
      .requiredOption("--reason <text>", "why (kept with the hold and in the audit log)"),
  ).action(
    async (
      o: { project: string; scope: "project" | "device" | "incident"; target?: string; reason: string } & HubFlags,
    ) => {
      const h = await client(o).call(retentionRoutes.hold, {
        params: { id: o.project },
        body: { scope: o.scope, reason: o.reason, ...(o.target ? { targetId: o.target } : {}) },
      });
      console.log(fmtHold(h));
    },
  );

  hubOpts(ret.command("release").description("release a legal hold").argument("<holdId>")).action(
    async (id: string, o: HubFlags) => {
      console.log(fmtHold(await client(o).call(retentionRoutes.release, { params: { id } })));
    },
  );

  hubOpts(ret.command("run").description("apply retention now (one run, under the replicas' lease)")).action(
    async (o: HubFlags) => {
      console.log(fmtRun(await client(o).call(retentionRoutes.run)));
    },
  );

  hubOpts(
    ret
      .command("runs")
      .description("the latest retention runs: what each deleted and why it kept what it kept")
      .option("--limit <n>", "how many", intFlag("--limit", 1, 100), 10),
  ).action(async (o: { limit: number } & HubFlags) => {
    const { items } = await client(o).call(retentionRoutes.runs, { query: { limit: o.limit } });
    for (const r of items) console.log(fmtRun(r));
    if (items.length === 0) console.log("no retention run yet");
  });
}
