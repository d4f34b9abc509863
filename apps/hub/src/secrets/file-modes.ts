import { chmodSync, statSync } from "node:fs";
import type { Logger } from "../logger.js";

/**
 * Makes `path` no more open than `mode` (0700 for the data dir, 0600 for files holding the
 * database, keys and tokens). A path another user owns is only reported: changing it is that
 * user's call, and chmod would fail anyway. Returns false when the path was left too open.
 */
export async function tightenMode(path: string, mode: number, log: Pick<Logger, "warn">): Promise<boolean> {
  return tightenModeSync(path, mode, log);
}

/** tightenMode for code that runs before anything async may (the SQLite driver's open). */
export function tightenModeSync(path: string, mode: number, log: Pick<Logger, "warn">): boolean {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
  const current = st.mode & 0o777;
  // bits `mode` does not allow, for group and others (the owner keeps what it has)
  const extra = current & ~mode & 0o077;
  if (extra === 0) return true;
  const ours = typeof process.getuid !== "function" || st.uid === process.getuid();
  const shown = { path, mode: octal(current), wanted: octal(mode) };
  if (!ours) {
    log.warn(shown, "readable by other users, and owned by another user: the hub cannot tighten it; do it by hand");
    return false;
  }
  try {
    chmodSync(path, current & ~extra);
  } catch (err) {
    log.warn({ ...shown, err: (err as Error).message }, "readable by other users and could not be tightened");
    return false;
  }
  log.warn(shown, "was readable by other users: tightened");
  return true;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}
