import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "@kensa/testkit";

const main = join(repoRoot, "apps/cli/src/main.ts");
// tsx from the repository, so the command also runs in another folder
const tsx = pathToFileURL(createRequire(main).resolve("tsx")).href;

/**
 * The real `kensa` command in a child process (the hub in this process answers it), in the
 * repository or in `env.CWD`; KENSA_* and npm's INIT_CWD cleared unless given.
 */
export function kensa(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, main, ...args],
      {
        cwd: env.CWD ?? repoRoot,
        encoding: "utf8",
        env: { ...process.env, KENSA_HUB_URL: "", KENSA_ADMIN_TOKEN: "", INIT_CWD: "", ...env },
      },
      (err, stdout, stderr) =>
        resolve({
          status: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}
