import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { KensaError } from "@kensa/contracts";
import { jsonErrorOffset } from "./json-position.js";

/**
 * `npm run kensa -- …` runs the CLI in the repository's root; npm names the caller's folder in
 * INIT_CWD. The CLI moves there, so relative paths (and defaults like `.kensa/hub`) mean what
 * they mean in the caller's shell. Only when this CLI is the npm script being run: INIT_CWD is
 * inherited by every child of any npm script (`npm test` spawning the CLI in a temp folder).
 * Returns the folder moved to, or null.
 */
export function useCallerCwd(env: Record<string, string | undefined> = process.env): string | null {
  const init = env.INIT_CWD;
  if (!init || !env.npm_lifecycle_script?.includes("apps/cli/src/main.ts")) return null;
  const target = resolve(init);
  if (target === process.cwd()) return null;
  process.chdir(target);
  return target;
}

/** A file-system error (ENOENT, EACCES, …) as a coded error naming the absolute path; other errors as they are. */
export function fileError(err: unknown, what = "file", path?: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== "object" || typeof e.code !== "string" || !e.syscall) return err;
  const abs = e.path || path ? resolve(e.path ?? path ?? "") : "(unknown path)";
  if (e.code === "ENOENT") return new KensaError("KENSA_ERR_FILE_NOT_FOUND", `${what} not found: ${abs}`);
  const why =
    e.code === "EACCES" || e.code === "EPERM"
      ? "permission denied"
      : e.code === "EISDIR"
        ? "it is a folder, not a file"
        : e.code === "ENOTDIR"
          ? "a part of the path is not a folder"
          : e.message;
  return new KensaError("KENSA_ERR_FILE_UNREADABLE", `${what} ${abs} cannot be read: ${why} (${e.code})`);
}

/** A file's bytes; a missing or unreadable file is a coded error naming it. */
export async function readInputFile(path: string, what = "file"): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw fileError(err, what, path);
  }
}

/** A JSON file, parsed; a parse error names the file, line and column. */
export async function readJsonFile(path: string, what = "JSON file"): Promise<unknown> {
  const text = (await readInputFile(path, what)).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    throw new KensaError(
      "KENSA_ERR_FILE_JSON_INVALID",
      `${what} ${resolve(path)} is not valid JSON${jsonPosition(text)}: ${msg}`,
    );
  }
}

/** " at line L, column C" of the first character that is not JSON. */
function jsonPosition(text: string): string {
  if (text.trim() === "") return " (the file is empty)";
  const at = jsonErrorOffset(text);
  if (at === null) return "";
  const before = text.slice(0, at);
  return ` at line ${before.split("\n").length}, column ${at - before.lastIndexOf("\n")}`;
}

interface NumberRule {
  /** whole numbers only */
  integer?: boolean;
  min?: number;
  /** exclusive lower bound */
  above?: number;
  max?: number;
}

/**
 * A commander parser for a number flag, checked before anything reaches the hub:
 * `--epochs ten` → KENSA_ERR_FLAG_INVALID "--epochs must be an integer ≥ 1, got 'ten'".
 */
export function numberFlag(flag: string, rule: NumberRule = {}): (value: string) => number {
  const kind = rule.integer ? "an integer" : "a number";
  const range =
    rule.above !== undefined
      ? ` > ${rule.above}${rule.max !== undefined ? ` and ≤ ${rule.max}` : ""}`
      : rule.min !== undefined && rule.max !== undefined
        ? ` from ${rule.min} to ${rule.max}`
        : rule.min !== undefined
          ? ` ≥ ${rule.min}`
          : rule.max !== undefined
            ? ` ≤ ${rule.max}`
            : "";
  return (value: string) => {
    const n = value.trim() === "" ? Number.NaN : Number(value);
    const ok =
      Number.isFinite(n) &&
      (!rule.integer || Number.isInteger(n)) &&
      (rule.min === undefined || n >= rule.min) &&
      (rule.above === undefined || n > rule.above) &&
      (rule.max === undefined || n <= rule.max);
    if (!ok) throw new KensaError("KENSA_ERR_FLAG_INVALID", `${flag} must be ${kind}${range}, got '${value}'`);
    return n;
  };
}

/** Integer flags ≥ min (1 by default). */
export const intFlag = (flag: string, min = 1, max?: number) => numberFlag(flag, { integer: true, min, max });

/** A TCP port flag: 0 (any free port) to 65535. */
export const portFlag = (flag: string) => intFlag(flag, 0, 65535);
