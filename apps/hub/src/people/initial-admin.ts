import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isKensaError, KensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { UserService } from "./user-service.js";

/** The file a generated admin password is written to, under the data dir. */
export const ADMIN_PASSWORD_FILE = "admin-password";

/**
 * On the first start (no user yet) creates the user `admin` with the password from env
 * KENSA_ADMIN_PASSWORD, else a generated one written to `<dataDir>/admin-password` (mode 0600,
 * like the admin token) until that password is changed (see removeStaleAdminPassword).
 * Returns the generated password, or null when none was generated now.
 */
export async function ensureInitialAdmin(
  users: UserService,
  env: Record<string, string | undefined>,
  dataDir: string,
): Promise<string | null> {
  if (await users.any()) return null;
  const given = env.KENSA_ADMIN_PASSWORD;
  if (given !== undefined && given.length < 8) {
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", "env KENSA_ADMIN_PASSWORD must have at least 8 characters");
  }
  const password = given ?? randomBytes(18).toString("base64url");
  try {
    await users.create({ username: "admin", displayName: "Administrator", role: "admin", password });
  } catch (err) {
    // another replica starting on the same database created it first: its password stands
    if (isKensaError(err) && err.code === "KENSA_ERR_USER_EXISTS") return null;
    throw err;
  }
  if (given !== undefined) return null;
  // temp name then rename: a reader never sees a half-written file, and the mode is ours
  // even when an older file (from a previous database) is replaced
  const file = join(dataDir, ADMIN_PASSWORD_FILE);
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, `${password}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return password;
}

/**
 * Deletes `<dataDir>/admin-password` once it no longer opens the `admin` account: the password
 * was changed (on this hub or another replica), so the file is only a stale secret on disk.
 * Runs at start and after every password change. Returns true when it deleted the file.
 */
export async function removeStaleAdminPassword(users: UserService, dataDir: string, log: Logger): Promise<boolean> {
  const file = join(dataDir, ADMIN_PASSWORD_FILE);
  let written: string;
  try {
    written = (await readFile(file, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  const check = await users.authenticate("admin", written);
  // "disabled": the password still opens the account, which may be enabled again
  if (check.reason !== "wrong password" && check.reason !== "unknown user") return false;
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  log.info({ file }, "the generated admin password was changed: its file is deleted");
  return true;
}
