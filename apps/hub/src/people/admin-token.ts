import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The admin token: from config, else env KENSA_ADMIN_TOKEN, else `<dataDir>/admin-token`,
 * generated on first start with mode 0600 so only the hub's user (and the local CLI) reads it.
 * Creates the data dir (mode 0700) when it does not exist yet.
 */
export async function resolveAdminToken(
  configured: string | undefined,
  env: Record<string, string | undefined>,
  dataDir: string,
): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (configured) return configured;
  if (env.KENSA_ADMIN_TOKEN) return env.KENSA_ADMIN_TOKEN;
  const file = join(dataDir, "admin-token");
  try {
    const existing = (await readFile(file, "utf8")).trim();
    if (existing) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const token = randomBytes(32).toString("base64url");
  try {
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: "wx" });
    return token;
  } catch (err) {
    // another process created it between our read and write: theirs wins
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return (await readFile(file, "utf8")).trim();
    throw err;
  }
}
