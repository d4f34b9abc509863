import type { ErrorCode } from "@kensa/contracts";

export type PathCheck = { ok: true; path: string } | { ok: false; code: ErrorCode; message: string };

/**
 * Normalizes an archive entry name to a relative `a/b/c` path, or says why it is unsafe.
 * Entries are never extracted to disk, but a path that is absolute or climbs out (`../`,
 * zip-slip) is refused anyway: it is either an attack or a broken archive, and importing it
 * under another name would hide that. Backslashes count as separators (Windows zip tools).
 */
export function checkEntryPath(raw: string): PathCheck {
  if (raw.includes("\0")) return { ok: false, code: "KENSA_ERR_DATASET_UNSAFE_PATH", message: "the path contains NUL" };
  const name = raw.replace(/\\/g, "/");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) {
    return { ok: false, code: "KENSA_ERR_DATASET_UNSAFE_PATH", message: `absolute path "${raw}"` };
  }
  const parts: string[] = [];
  for (const seg of name.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      return { ok: false, code: "KENSA_ERR_DATASET_UNSAFE_PATH", message: `path "${raw}" climbs out of the archive` };
    }
    parts.push(seg);
  }
  return { ok: true, path: parts.join("/") };
}
