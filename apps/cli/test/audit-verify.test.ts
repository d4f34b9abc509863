import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createHub, type Hub, type HubConfigInput } from "@kensa/hub";
import { findPostgres, needService, repoRoot, type TempDir, tempDir } from "@kensa/testkit";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The real `kensa` command in a child process (never blocking this one: a hub may be answering it). */
function kensa(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "apps/cli/src/main.ts", "audit", "verify", ...args],
      { cwd: repoRoot, encoding: "utf8", env: { ...process.env, KENSA_ADMIN_TOKEN: "" } },
      (err, stdout, stderr) =>
        resolve({
          status: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}

const ADMIN = "cli-audit-admin-token-0123";

/** A hub that wrote some entries and stopped (its last anchor written). */
async function hubWithEntries(dir: TempDir, database?: HubConfigInput["database"]): Promise<Hub> {
  const hub = await createHub({
    dataDir: dir.path,
    adminToken: ADMIN,
    logLevel: "silent",
    http: { host: "127.0.0.1", port: 0 },
    ...(database ? { database } : {}),
  });
  const auth = { authorization: `Bearer ${ADMIN}` };
  const user = await hub.app.inject({
    method: "POST",
    url: "/api/v1/users",
    headers: auth,
    payload: { username: "ada", displayName: "Ada", role: "labeler", password: "pw-ada-0123456789" },
  });
  const id = (user.json() as { id: string }).id;
  for (let i = 0; i < 4; i++) {
    await hub.app.inject({
      method: "POST",
      url: `/api/v1/users/${id}/tokens`,
      headers: auth,
      payload: { name: `t${i}` },
    });
  }
  return hub;
}

describe("kensa audit verify (sqlite)", () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir("kensa-cli-audit-");
    await (await hubWithEntries(dir)).close();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it("passes on an intact chain, then names a deleted and a modified entry and exits 1", async () => {
    const intact = await kensa("--offline", "--data-dir", dir.path);
    expect(intact.stderr).toBe("");
    expect(intact.status).toBe(0);
    expect(intact.stdout).toMatch(/audit chain intact: \d+ entries checked.*1 anchors, all signed/);

    const { default: Sqlite } = await import("better-sqlite3");
    const db = new Sqlite(`${dir.path}/kensa.db`);
    try {
      const row = db.prepare("select * from audit_log where seq = 2").get() as Record<string, unknown>;
      db.prepare("delete from audit_log where seq = 2").run();
      const deleted = await kensa("--offline", "--data-dir", dir.path);
      expect(deleted.status).toBe(1);
      expect(deleted.stderr).toContain("error KENSA_ERR_AUDIT_CHAIN_BROKEN: entry 2 (deleted)");
      expect(deleted.stdout).toContain("audit chain BROKEN at entry 2 (deleted)");

      const cols = Object.keys(row);
      db.prepare(`insert into audit_log (${cols.join(", ")}) values (${cols.map(() => "?").join(", ")})`).run(
        ...cols.map((c) => row[c]),
      );
      db.prepare("update audit_log set actor = 'mallory' where seq = 3").run();
      const modified = await kensa("--offline", "--data-dir", dir.path, "--json");
      expect(modified.status).toBe(1);
      expect(JSON.parse(modified.stdout)).toMatchObject({ ok: false, problem: { seq: 3, fault: "modified" } });
    } finally {
      db.close();
    }
  });

  it("asks a running hub by default, and says so when the chain is broken", async () => {
    const hub = await createHub({
      dataDir: dir.path,
      adminToken: ADMIN,
      logLevel: "silent",
      http: { host: "127.0.0.1", port: 0 },
      mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
    });
    try {
      const { httpUrl } = await hub.start();
      const run = await kensa("--hub", httpUrl, "--token", ADMIN);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("entry 3 (modified)");
      const refused = await kensa("--hub", httpUrl, "--token", "not-a-token");
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("KENSA_ERR_UNAUTHORIZED");
    } finally {
      await hub.close();
    }
  });

  it("says what it could not read", async () => {
    const empty = await tempDir("kensa-cli-audit-empty-");
    try {
      const run = await kensa("--offline", "--data-dir", empty.path);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("KENSA_ERR_AUDIT_UNREADABLE");
    } finally {
      await empty.remove();
    }
  });
});

const PG_URL = await findPostgres();
describe.skipIf(needService("PostgreSQL at 127.0.0.1:5432 (kensa audit verify)", PG_URL !== null))(
  "kensa audit verify --offline on PostgreSQL",
  () => {
    const schema = `kensa_t_cli_audit_${process.pid}_${randomBytes(3).toString("hex")}`;
    let dir: TempDir;
    let hub: Hub;
    beforeAll(async () => {
      dir = await tempDir("kensa-cli-audit-pg-");
      hub = await hubWithEntries(dir, { type: "postgres", url: PG_URL!, schema });
    });
    afterAll(async () => {
      await hub?.close();
      await dir?.remove();
      const client = new pg.Client({ connectionString: PG_URL! });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    });

    it("passes on the intact chain and names a deleted entry", async () => {
      const args = ["--offline", "--data-dir", dir.path, "--database-url", PG_URL!, "--schema", schema];
      const intact = await kensa(...args);
      expect(intact.stderr).toBe("");
      expect(intact.status).toBe(0);
      await sql`delete from audit_log where seq = 4`.execute(hub.store.db);
      const deleted = await kensa(...args);
      expect(deleted.status).toBe(1);
      expect(deleted.stderr).toContain("entry 4 (deleted)");
    });
  },
);
