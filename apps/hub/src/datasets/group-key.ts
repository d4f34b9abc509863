import { KensaError } from "@kensa/contracts";
import { dirOf } from "./formats/dataset-format.js";
import { compileSafePattern, type SafePattern, timeSlicer } from "./safe-pattern.js";

/**
 * Assigns import-time group keys by rule, for each item path (null: no key, the snapshot's
 * default applies, i.e. the image itself):
 * - `none`: no key
 * - `dir`: the item's folder
 * - `regex:<re>`: the first capture group of `<re>` on the path (the whole match without
 *   one); items it does not match get no key
 * - `cluster:<re>:<gap>`: `<re>` captures a number; within one folder, items sorted by it
 *   form one group while consecutive numbers are less than `<gap>` apart (captures of one
 *   physical spot with close counters, e.g. magnetic tile `exp3_num_3223`)
 * `<re>` is RE2 syntax, matched in linear time (see safe-pattern.ts and docs/datasets.md).
 */
export async function assignGroupKeys(paths: string[], rule: string): Promise<Array<string | null>> {
  const parsed = parseGroupKeyRule(rule);
  const keys: Array<string | null> = paths.map(() => null);
  if (parsed.kind === "none") return keys;
  if (parsed.kind === "dir") return paths.map((p) => `dir:${dirOf(p)}`);
  const slice = timeSlicer();
  if (parsed.kind === "regex") {
    for (const [i, p] of paths.entries()) {
      await slice();
      const m = parsed.re.exec(p);
      keys[i] = m ? `re:${m[1] ?? m[0]}` : null;
    }
    return keys;
  }
  const byDir = new Map<string, Array<{ i: number; n: number }>>();
  for (const [i, p] of paths.entries()) {
    await slice();
    const m = parsed.re.exec(p);
    const n = m ? Number(m[1] ?? m[0]) : Number.NaN;
    if (!Number.isFinite(n)) continue;
    const list = byDir.get(dirOf(p)) ?? [];
    list.push({ i, n });
    byDir.set(dirOf(p), list);
  }
  for (const [dir, list] of byDir) {
    list.sort((a, b) => a.n - b.n);
    let start = list[0]!.n;
    let prev = start;
    for (const { i, n } of list) {
      if (n - prev >= parsed.gap) start = n;
      prev = n;
      keys[i] = `cluster:${dir}#${start}`;
    }
  }
  return keys;
}

type GroupKeyRule =
  | { kind: "none" }
  | { kind: "dir" }
  | { kind: "regex"; re: SafePattern }
  | { kind: "cluster"; re: SafePattern; gap: number };

function parseGroupKeyRule(rule: string): GroupKeyRule {
  if (rule === "none") return { kind: "none" };
  if (rule === "dir") return { kind: "dir" };
  if (rule.startsWith("regex:")) return { kind: "regex", re: compileSafePattern(rule.slice(6), "groupKey", rule) };
  if (rule.startsWith("cluster:")) {
    const body = rule.slice(8);
    const colon = body.lastIndexOf(":");
    const gap = Number(body.slice(colon + 1));
    if (colon < 0 || !Number.isFinite(gap) || gap <= 0) throw invalid(rule, "cluster needs `cluster:<regex>:<gap>`");
    return { kind: "cluster", re: compileSafePattern(body.slice(0, colon), "groupKey", rule), gap };
  }
  throw invalid(rule, "use none, dir, regex:<re> or cluster:<re>:<gap>");
}

/** Checks a rule before any work starts. */
export function checkGroupKeyRule(rule: string): void {
  parseGroupKeyRule(rule);
}

function invalid(rule: string, why: string): KensaError {
  return new KensaError("KENSA_ERR_VALIDATION", `groupKey "${rule}": ${why}`, {
    issues: [{ path: "/groupKey", message: why }],
  });
}
