import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
import { tightenMode } from "../src/secrets/file-modes.js";
import { startHub } from "./helpers.js";

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** The HTTP status of a sign-in. */
async function login(httpUrl: string, username: string, password: string): Promise<number> {
  const res = await fetch(`${httpUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  await res.body?.cancel();
  return res.status;
}

describe("data dir and secret files", () => {
  it("keeps the data dir 0700 and the database, its WAL, the key and the tokens 0600", async () => {
    const t = await startHub({}, { deps: { env: {} } });
    try {
      const d = t.dir.path;
      expect(await modeOf(d)).toBe(0o700);
      for (const f of [
        "kensa.db",
        "kensa.db-wal",
        "kensa.db-shm",
        "admin-token",
        "admin-password",
        "keys/secrets.key",
      ]) {
        expect(await modeOf(join(d, f)), f).toBe(0o600);
      }
      expect(await modeOf(join(d, "keys"))).toBe(0o700);
    } finally {
      await t.close();
    }
  });

  it("tightens a data dir, database, token and key left readable by others, and says so", async () => {
    const dir = await tempDir("kensa-modes-");
    try {
      let t = await startHub({}, { dir, deps: { env: {} } });
      await t.close();
      await chmod(dir.path, 0o755);
      await chmod(join(dir.path, "kensa.db"), 0o644);
      await chmod(join(dir.path, "admin-token"), 0o644);
      await chmod(join(dir.path, "keys", "secrets.key"), 0o640);
      t = await startHub({}, { dir, deps: { env: {} } });
      await t.close();
      expect(await modeOf(dir.path)).toBe(0o700);
      expect(await modeOf(join(dir.path, "kensa.db"))).toBe(0o600);
      expect(await modeOf(join(dir.path, "admin-token"))).toBe(0o600);
      expect(await modeOf(join(dir.path, "keys", "secrets.key"))).toBe(0o600);
      // what the start logs for each: a warning naming the path and the mode it had
      const warned: Array<Record<string, unknown>> = [];
      const loose = join(dir.path, "loose.txt");
      await writeFile(loose, "x", { mode: 0o644 });
      await chmod(loose, 0o644);
      expect(await tightenMode(loose, 0o600, { warn: (obj) => warned.push(obj as Record<string, unknown>) })).toBe(
        true,
      );
      expect(await modeOf(loose)).toBe(0o600);
      expect(warned).toEqual([{ path: loose, mode: "0644", wanted: "0600" }]);
      // already tight: nothing to say
      expect(await tightenMode(loose, 0o600, { warn: (obj) => warned.push(obj as Record<string, unknown>) })).toBe(
        true,
      );
      expect(warned).toHaveLength(1);
    } finally {
      await dir.remove();
    }
  });
});

describe("generated admin password", () => {
  it("is deleted from disk once the admin changes it, and stays gone after a restart", async () => {
    const dir = await tempDir("kensa-adminpw-");
    try {
      let t = await startHub({}, { dir, deps: { env: {} } });
      const file = join(dir.path, "admin-password");
      try {
        const generated = t.hub.initialAdminPassword!;
        expect((await readFile(file, "utf8")).trim()).toBe(generated);
        expect(await login(t.httpUrl, "admin", generated)).toBe(200);
        // a restart before the change keeps it: the admin may not have read it yet
        await t.close();
        t = await startHub({}, { dir, deps: { env: {} } });
        expect((await readFile(file, "utf8")).trim()).toBe(generated);

        const users = await t.call<{ items: Array<{ id: string; username: string }> }>("GET", "/api/v1/users");
        const admin = users.json.items.find((u) => u.username === "admin")!;
        const changed = await t.call("PATCH", `/api/v1/users/${admin.id}`, {
          body: { password: "a-new-admin-password" },
        });
        expect(changed.status).toBe(200);
        await expect(stat(file)).rejects.toThrow(/ENOENT/);
        expect(await login(t.httpUrl, "admin", "a-new-admin-password")).toBe(200);
      } finally {
        await t.close();
      }
      t = await startHub({}, { dir, deps: { env: {} } });
      await t.close();
      await expect(stat(file)).rejects.toThrow(/ENOENT/);
    } finally {
      await dir.remove();
    }
  });

  it("is deleted at start when the password was changed elsewhere (another replica)", async () => {
    const dir = await tempDir("kensa-adminpw2-");
    try {
      let t = await startHub({}, { dir, deps: { env: {} } });
      const generated = t.hub.initialAdminPassword!;
      await t.close();
      // as another replica would: the file is this hub's, the change happened on the shared database
      const file = join(dir.path, "admin-password");
      t = await startHub({}, { dir, deps: { env: {} } });
      const users = await t.call<{ items: Array<{ id: string; username: string }> }>("GET", "/api/v1/users");
      const admin = users.json.items.find((u) => u.username === "admin")!;
      // put the file back as if this replica had not seen the change
      await t.call("PATCH", `/api/v1/users/${admin.id}`, { body: { password: "changed-elsewhere-0" } });
      await writeFile(file, `${generated}\n`, { mode: 0o600 });
      await t.close();
      t = await startHub({}, { dir, deps: { env: {} } });
      await t.close();
      await expect(stat(file)).rejects.toThrow(/ENOENT/);
    } finally {
      await dir.remove();
    }
  });
});
