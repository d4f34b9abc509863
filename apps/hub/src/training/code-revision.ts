import { execFile } from "node:child_process";
import { resolve } from "node:path";

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
