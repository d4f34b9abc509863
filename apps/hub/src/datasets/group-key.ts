import { KensaError } from "@kensa/contracts";
import { dirOf } from "./formats/dataset-format.js";

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
 */
export function assignGroupKeys(paths: string[], rule: string): Array<string | null> {
  if (rule === "none") return paths.map(() => null);
  if (rule === "dir") return paths.map((p) => `dir:${dirOf(p)}`);
  if (rule.startsWith("regex:")) {
    const re = compile(rule.slice(6), rule);
    return paths.map((p) => {
      const m = re.exec(p);
      return m ? `re:${m[1] ?? m[0]}` : null;
    });
  }
  if (rule.startsWith("cluster:")) {
    const body = rule.slice(8);
    const colon = body.lastIndexOf(":");
    const gap = Number(body.slice(colon + 1));
    if (colon < 0 || !Number.isFinite(gap) || gap <= 0) throw invalid(rule, "cluster needs `cluster:<regex>:<gap>`");
    const re = compile(body.slice(0, colon), rule);
    const keys: Array<string | null> = paths.map(() => null);
    const byDir = new Map<string, Array<{ i: number; n: number }>>();
    paths.forEach((p, i) => {
      const m = re.exec(p);
      const n = m ? Number(m[1] ?? m[0]) : Number.NaN;
      if (!Number.isFinite(n)) return;
      const list = byDir.get(dirOf(p)) ?? [];
      list.push({ i, n });
      byDir.set(dirOf(p), list);
    });
    for (const [dir, list] of byDir) {
      list.sort((a, b) => a.n - b.n);
      let start = list[0]!.n;
      let prev = start;
      for (const { i, n } of list) {
        if (n - prev >= gap) start = n;
        prev = n;
        keys[i] = `cluster:${dir}#${start}`;
      }
    }
    return keys;
  }
  throw invalid(rule, "use none, dir, regex:<re> or cluster:<re>:<gap>");
}

/** Checks a rule before any work starts. */
export function checkGroupKeyRule(rule: string): void {
  assignGroupKeys([], rule);
}

function compile(src: string, rule: string): RegExp {
  try {
    return new RegExp(src);
  } catch (err) {
    throw invalid(rule, (err as Error).message);
  }
}

function invalid(rule: string, why: string): KensaError {
  return new KensaError("KENSA_ERR_VALIDATION", `groupKey "${rule}": ${why}`, {
    issues: [{ path: "/groupKey", message: why }],
  });
}
