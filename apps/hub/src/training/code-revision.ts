import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";

let cached: Promise<string> | null = null;

/** `git rev-parse HEAD` of the code the hub runs, or "unknown" outside a git checkout. */
export function codeRevision(): Promise<string> {
  cached ??= new Promise((done) => {
    execFile("git", ["rev-parse", "HEAD"], { cwd: resolve(import.meta.dirname), timeout: 10_000 }, (err, stdout) =>
      done(err ? "unknown" : stdout.trim() || "unknown"),
    );
  });
  return cached;
}

/**
 * The source revision of the built-in trainer in `trainerDir` (the folder holding kensa_trainer/):
 * sha256 over its *.py files, each as relative POSIX path, NUL, bytes, NUL, sorted by path —
 * exactly what trainers/torch/kensa_trainer/revision.py computes and the trainer reports as
 * `src/<first 12 hex>` in its version. A content digest, not the hub's commit: a hub commit that
 * leaves the trainer alone is no reason to retrain. Null when the folder holds no trainer.
 */
export async function trainerRevision(trainerDir: string): Promise<string | null> {
  const root = join(trainerDir, "kensa_trainer");
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== "__pycache__") await walk(join(dir, e.name));
      else if (e.isFile() && e.name.endsWith(".py")) files.push(relative(root, join(dir, e.name)).split(sep).join("/"));
    }
  };
  try {
    await walk(root);
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  // Python sorts str by code point; for the ASCII names of a package that is byte order too
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const h = createHash("sha256");
  for (const rel of files) {
    h.update(Buffer.from(`${rel}\0`, "utf8"));
    h.update(await readFile(join(root, rel)));
    h.update(Buffer.from([0]));
  }
  return h.digest("hex");
}

/** The `src/<hex>` revision a trainer reported in its version string, or null when it reported none. */
export function reportedRevision(trainerVersion: string | null | undefined): string | null {
  return /(?:^|\s)src\/([0-9a-f]{12,64})(?:\s|$)/.exec(trainerVersion ?? "")?.[1] ?? null;
}
