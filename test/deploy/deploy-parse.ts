// Readers for the files in deploy/: Dockerfiles, the systemd unit, Mosquitto's config, and the
// flags the CLIs really take (from their --help, so a renamed flag shows up here).
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "@kensa/testkit";

const run = promisify(execFile);

export const deployFile = (name: string) => join(repoRoot, "deploy", name);
export const readDeploy = (name: string) => readFileSync(deployFile(name), "utf8");

export interface Instruction {
  op: string;
  args: string;
  /** the stage (its AS name, or its index) the instruction belongs to */
  stage: string;
}

/** Dockerfile instructions, continuation lines joined, comments and parser directives left out. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = "";
  let stages = 0;
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(full);
    if (!m?.[1] || m[2] === undefined) throw new Error(`not a Dockerfile instruction: ${full}`);
    const op = m[1].toUpperCase();
    if (op === "FROM") stage = /\bAS\s+(\S+)/i.exec(m[2])?.[1] ?? String(stages);
    if (op === "FROM") stages++;
    out.push({ op, args: m[2], stage });
  }
  return out;
}

/** The JSON (exec) form of CMD, ENTRYPOINT, VOLUME, HEALTHCHECK … CMD. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf("["));
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) throw new Error(`not exec form: ${args}`);
  return parsed;
}

/** Stage names (AS …) in order. */
export const stageNames = (ins: Instruction[]) =>
  ins.filter((i) => i.op === "FROM").map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1] ?? "");

/** `ENV A=1 B=2` pairs of every ENV instruction of the given stages (all when omitted). */
export function envOf(ins: Instruction[], stages?: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of ins) {
    if (i.op !== "ENV" || (stages && !stages.includes(i.stage))) continue;
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) if (m[1] && m[2]) env[m[1]] = m[2];
  }
  return env;
}

/** The last instruction `op` of a stage, following FROM <stage> chains to the stage it is based on. */
export function lastOf(ins: Instruction[], op: string, stage: string): Instruction | undefined {
  const own = ins.filter((i) => i.stage === stage && i.op === op).at(-1);
  if (own) return own;
  const from = ins.find((i) => i.op === "FROM" && i.stage === stage);
  const base = from?.args.split(/\s+/)[0];
  return base && stageNames(ins).includes(base) && base !== stage ? lastOf(ins, op, base) : undefined;
}

/** `--name` → the flag's value in an argv ("--port 8080"); undefined when absent. */
export function flagValue(argv: string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
}

/** Every `--flag` of an argv. */
export const flagsOf = (argv: string[]) => argv.filter((a) => a.startsWith("--"));

/** The long flags a command documents in its --help. */
export async function helpFlags(argv: string[]): Promise<Set<string>> {
  const { stdout } = await run(process.execPath, argv, { cwd: repoRoot, timeout: 60_000 });
  return new Set([...stdout.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1] ?? ""));
}

const helpCache = new Map<string, Promise<Set<string>>>();
/** The flags of `kensa <command>` (asked once per command). */
export function kensaHelp(command: string): Promise<Set<string>> {
  let flags = helpCache.get(command);
  if (!flags) {
    flags = helpFlags(["--import", "tsx", join(repoRoot, "apps/cli/src/main.ts"), command, "--help"]);
    helpCache.set(command, flags);
  }
  return flags;
}
export const agentHelp = () => helpFlags(["--import", "tsx", join(repoRoot, "apps/agent/src/main.ts"), "--help"]);

/** systemd unit: section → key → values (a key may repeat). */
export function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head?.[1]) {
      section = head[1];
      out[section] = {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || !section) throw new Error(`not a unit line: ${line}`);
    const values = out[section] as Record<string, string[]>;
    const key = line.slice(0, eq);
    values[key] = [...(values[key] ?? []), line.slice(eq + 1)];
  }
  return out;
}

/** `KEY=value KEY2=value` of systemd's Environment= lines. */
export const unitEnv = (lines: string[]) =>
  Object.fromEntries(
    lines.flatMap((l) => l.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
  );

/** mosquitto.conf: directive → its arguments (last one wins). */
export function parseMosquittoConf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key) out[key] = rest.join(" ");
  }
  return out;
}

/** Whether the apps' and packages' sources (tests left out) read an environment variable of this name. */
export function sourcesMention(name: string): boolean {
  const dirs = ["apps", "packages", "scripts", "trainers"];
  const skip = ["test", "node_modules", "dist"].map((d) => `--exclude-dir=${d}`);
  try {
    const found = execFileSync(
      "grep",
      ["-rlF", ...skip, "--include=*.ts", "--include=*.mjs", "--include=*.py", name, ...dirs],
      {
        cwd: repoRoot,
        encoding: "utf8",
      },
    );
    return found.trim().length > 0;
  } catch {
    return false; // grep exits 1 when nothing matches
  }
}
