import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AuditVerifyReport } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import SqliteDriver from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { AUDIT_GENESIS_HASH, auditEntryHash } from "../src/db/audit-hash.js";
import { migrationProvider } from "../src/db/migrations/index.js";
import { openDatabase } from "../src/db/open-database.js";
import type { AuditLogTable, HubDatabase } from "../src/db/schema.js";
import { createHub, type Hub, verifyAuditOffline } from "../src/index.js";
import { ANCHOR_LOG_FILE } from "../src/people/audit-anchor.js";
import { AuditLog } from "../src/people/audit-log.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("audit-chain");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

type Row = AuditLogTable;

async function rows(db: Kysely<HubDatabase>): Promise<Row[]> {
  return (await db.selectFrom("audit_log").selectAll().orderBy("seq").execute()).map((r) => ({
    ...r,
    seq: Number(r.seq),
  }));
}

/** Puts the table and its head back exactly as saved. */
async function restore(db: Kysely<HubDatabase>, saved: Row[]): Promise<void> {
  await db.deleteFrom("audit_log").execute();
  for (const r of saved) await db.insertInto("audit_log").values(r).execute();
  const last = saved[saved.length - 1]!;
  await db.updateTable("audit_head").set({ seq: last.seq, hash: last.hash }).where("name", "=", "audit").execute();
}

/** What an attacker with write access to the database does to hide a change: re-hash from `from` on. */
async function rehashFrom(db: Kysely<HubDatabase>, from: number): Promise<void> {
  const all = await rows(db);
  let prev = from === 1 ? AUDIT_GENESIS_HASH : all.find((r) => r.seq === from - 1)!.hash;
  for (const r of all.filter((x) => x.seq >= from)) {
    const hash = auditEntryHash({ ...r, prev_hash: prev });
    await db.updateTable("audit_log").set({ prev_hash: prev, hash }).where("id", "=", r.id).execute();
    prev = hash;
  }
  const last = all[all.length - 1]!;
  await db.updateTable("audit_head").set({ seq: last.seq, hash: prev }).where("name", "=", "audit").execute();
}

describe.each(list)("the audit log's hash chain ($name)", (backend) => {
  let t: TestHub;
  let db: Kysely<HubDatabase>;
  let saved: Row[];
  const verifyApi = async () => {
    const r = await t.call<AuditVerifyReport>("GET", "/api/v1/audit/verify");
    expect(r.status).toBe(200);
    return r.json;
  };
  const verifyOffline = () => verifyAuditOffline({ dataDir: t.dir.path, database: t.hub.config.database });
  const problemOf = async () => {
    const [api, offline] = await Promise.all([verifyApi(), verifyOffline()]);
    expect(offline.problem).toEqual(api.problem);
    return api.problem;
  };

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    db = t.hub.store.db;
    // entries of several kinds: failed sign-ins (anonymous), a user, tokens
    for (const u of ["eve", "mallory", "trent"]) {
      await t.call("POST", "/api/v1/auth/login", { body: { username: u, password: "wrong-password" }, auth: null });
    }
    const user = await t.call<{ id: string }>("POST", "/api/v1/users", {
      body: { username: "ada", displayName: "Ada", role: "labeler", password: "pw-ada-0123456789" },
    });
    for (let i = 0; i < 3; i++) {
      await t.call("POST", `/api/v1/users/${user.json.id}/tokens`, { body: { name: `t${i}` } });
    }
    saved = await rows(db);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("chains every entry from seq 1 and verifies intact, through the hub and offline", async () => {
    expect(saved.map((r) => r.seq)).toEqual(saved.map((_, i) => i + 1));
    expect(saved.length).toBeGreaterThanOrEqual(7);
    expect(saved[0]!.prev_hash).toBe(AUDIT_GENESIS_HASH);
    for (let i = 1; i < saved.length; i++) expect(saved[i]!.prev_hash).toBe(saved[i - 1]!.hash);
    const report = await verifyApi();
    expect(report).toMatchObject({ ok: true, entries: saved.length, lastSeq: saved.length, problem: null });
    expect(report.lastHash).toBe(saved[saved.length - 1]!.hash);
    expect(await verifyOffline()).toEqual(report);
    // the list shows each entry's place and hash
    const page = await t.call<{ items: Array<{ seq: number; hash: string }> }>("GET", "/api/v1/audit?limit=1");
    expect(page.json.items[0]).toMatchObject({ seq: saved.length, hash: saved[saved.length - 1]!.hash });
  });

  it("names a modified entry (a changed actor), and is intact again once it is put back", async () => {
    await db.updateTable("audit_log").set({ actor: "someone-else" }).where("seq", "=", 2).execute();
    expect(await problemOf()).toMatchObject({ seq: 2, fault: "modified" });
    await restore(db, saved);
    expect((await verifyApi()).ok).toBe(true);
  });

  it("names a deleted entry", async () => {
    await db.deleteFrom("audit_log").where("seq", "=", 4).execute();
    const p = await problemOf();
    expect(p).toMatchObject({ seq: 4, fault: "deleted" });
    expect(p?.message).toContain("entry 4 is missing");
    await restore(db, saved);
  });

  it("names an entry rewritten with its own hash recomputed (its link to the previous one breaks)", async () => {
    await db.updateTable("audit_log").set({ action: "auth.login" }).where("seq", "=", 3).execute();
    const r3 = (await rows(db)).find((r) => r.seq === 3)!;
    await db
      .updateTable("audit_log")
      .set({ hash: auditEntryHash(r3) })
      .where("seq", "=", 3)
      .execute();
    expect(await problemOf()).toMatchObject({ seq: 4, fault: "reordered" });
    await restore(db, saved);
  });

  it("detects a deleted tail against the head row, and against the last anchor when the head is rewritten too", async () => {
    const anchor = await new AuditLog(db, { dataDir: t.dir.path }).anchor();
    expect(anchor).toMatchObject({ seq: saved.length, hash: saved[saved.length - 1]!.hash });
    const n = saved.length;
    await db
      .deleteFrom("audit_log")
      .where("seq", ">", n - 2)
      .execute();
    expect(await problemOf()).toMatchObject({ seq: n - 1, fault: "truncated" });
    // the attacker also moves the head back: what is left is a valid chain, the anchor is not fooled
    const kept = saved[n - 3]!;
    await db.updateTable("audit_head").set({ seq: kept.seq, hash: kept.hash }).where("name", "=", "audit").execute();
    const p = await problemOf();
    expect(p).toMatchObject({ seq: n - 1, fault: "truncated" });
    expect(p?.message).toContain(`reached entry ${n}`);
    await restore(db, saved);
    expect((await verifyApi()).ok).toBe(true);
  });

  it("detects a chain re-hashed from a changed entry on, against the anchor", async () => {
    // an anchor covering the whole chain exists from the previous test
    await db.updateTable("audit_log").set({ actor: "nobody" }).where("seq", "=", 2).execute();
    await rehashFrom(db, 2);
    expect(await problemOf()).toMatchObject({ seq: saved.length, fault: "anchor-mismatch" });
    await restore(db, saved);
  });

  it("refuses an anchor log edited by hand (the signature no longer holds)", async () => {
    const file = join(t.dir.path, ANCHOR_LOG_FILE);
    const original = await readFile(file, "utf8");
    const [first] = original.trim().split("\n");
    const forged = { ...JSON.parse(first!), seq: 2, hash: saved[1]!.hash };
    await writeFile(file, `${original}${JSON.stringify(forged)}\n`);
    expect(await problemOf()).toMatchObject({ seq: 2, fault: "anchor-signature" });
    await writeFile(file, original);
    expect((await verifyApi()).ok).toBe(true);
  });

  it("keeps the chain whole under concurrent appends", async () => {
    const audit = new AuditLog(db);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => audit.record({ actor: "test", actorKind: "system", action: `x.${i}` })),
    );
    const report = await verifyApi();
    expect(report).toMatchObject({ ok: true, entries: saved.length + 40 });
    saved = await rows(db);
  });
});

const pg = list.find((b) => b.name === "postgres");
describe.skipIf(!pg)("two hub replicas appending to one PostgreSQL", () => {
  let dir: TempDir;
  let hubs: Hub[] = [];
  beforeAll(async () => {
    dir = await tempDir("kensa-audit-replicas-");
    const database = pg!.database("replicas");
    for (let i = 0; i < 2; i++) {
      hubs.push(
        await createHub({ dataDir: dir.path, database, logLevel: "silent", adminToken: "replica-admin-token-0123" }),
      );
    }
  });
  afterAll(async () => {
    for (const h of hubs) await h.close();
    hubs = [];
    await dir?.remove();
  });

  it("interleaves their entries into one valid chain", async () => {
    const auth = { authorization: "Bearer replica-admin-token-0123" };
    const user = await hubs[0]!.app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: auth,
      payload: { username: "ada", displayName: "Ada", role: "labeler", password: "pw-ada-0123456789" },
    });
    const userId = (user.json() as { id: string }).id;
    // API tokens made at once on both replicas, each audited (token.create) by the one that made it
    const replies = await Promise.all(
      hubs.flatMap((h, i) =>
        Array.from({ length: 60 }, (_, k) =>
          h.app.inject({
            method: "POST",
            url: `/api/v1/users/${userId}/tokens`,
            headers: auth,
            payload: { name: `r${i}-t${k}` },
          }),
        ),
      ),
    );
    expect(replies.map((r) => r.statusCode)).toEqual(replies.map(() => 201));
    const db = hubs[0]!.store.db;
    const all = await rows(db);
    expect(all.filter((r) => r.action === "token.create")).toHaveLength(120);
    expect(all.map((r) => r.seq)).toEqual(all.map((_, i) => i + 1));
    const report = await verifyAuditOffline({ dataDir: dir.path, database: hubs[0]!.config.database });
    expect(report).toMatchObject({ ok: true, entries: all.length, problem: null });
  });
});

describe("migration 0012 on a log written before the chain (sqlite)", () => {
  it("chains the old entries in time order, and new ones follow them", async () => {
    const dir = await tempDir("kensa-audit-migrate-");
    try {
      const path = join(dir.path, "kensa.db");
      const raw = new Kysely<HubDatabase>({ dialect: new SqliteDialect({ database: new SqliteDriver(path) }) });
      const migrator = new Migrator({ db: raw, provider: migrationProvider });
      expect((await migrator.migrateTo("0011_ingest_write_cost")).error).toBeUndefined();
      const legacy = ["aud_000001700000000000000001", "aud_000001700000000001000002", "aud_000001700000000002000003"];
      for (const [i, id] of [...legacy].reverse().entries()) {
        await sql`insert into audit_log (id, at, actor, actor_kind, action, target_type, target_id, details, ip)
          values (${id}, ${new Date(1_700_000_000_000 + i).toISOString()}, ${`u${i}`}, 'user', 'user.update', 'user', ${`usr_${i}`}, '{"n":1}', null)`.execute(
          raw,
        );
      }
      await raw.destroy();

      const store = await openDatabase(parseHubConfig({ dataDir: dir.path }));
      try {
        const chained = await rows(store.db);
        expect(chained.map((r) => [r.seq, r.id])).toEqual(legacy.map((id, i) => [i + 1, id]));
        await new AuditLog(store.db).record({ actor: "admin", actorKind: "user", action: "user.create" });
        const report = await verifyAuditOffline({ dataDir: dir.path });
        expect(report).toMatchObject({ ok: true, entries: 4, lastSeq: 4, anchors: 0 });
      } finally {
        await store.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
