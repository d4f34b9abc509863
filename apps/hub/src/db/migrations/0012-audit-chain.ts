import type { Kysely } from "kysely";
import { AUDIT_GENESIS_HASH, type AuditHashInput, auditEntryHash } from "../audit-hash.js";

/** an entry as stored before the chain: every hashed field but its place and predecessor */
type LegacyRow = Omit<AuditHashInput, "seq" | "prev_hash">;

/**
 * The audit log becomes a hash chain: each entry carries its place (`seq`), the hash of the
 * entry before it and its own hash (db/audit-hash.ts). `audit_head` is the one row every append
 * updates under its row lock, so replicas on one database append one at a time and the head
 * names the last entry (a deleted tail no longer matches it).
 *
 * Entries written before this migration are chained here, in id order (their time order), so
 * the whole log verifies from seq 1; they were not protected before, and the chain vouches for
 * them only from now on. Rows are read and written a page at a time so a long log does not sit
 * in memory at once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("audit_log").addColumn("seq", "bigint").execute();
  await db.schema.alterTable("audit_log").addColumn("prev_hash", "text").execute();
  await db.schema.alterTable("audit_log").addColumn("hash", "text").execute();

  const d = db as unknown as Kysely<{
    audit_log: LegacyRow & { seq: number | null; prev_hash: string | null; hash: string | null };
    audit_head: { name: string; seq: number; hash: string };
  }>;
  let seq = 0;
  let prev = AUDIT_GENESIS_HASH;
  let after = "";
  for (;;) {
    const rows = await d
      .selectFrom("audit_log")
      .select(["id", "at", "actor", "actor_kind", "action", "target_type", "target_id", "details", "ip"])
      .where("id", ">", after)
      .orderBy("id")
      .limit(500)
      .execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      seq++;
      const hash = auditEntryHash({ ...r, seq, prev_hash: prev });
      await d.updateTable("audit_log").set({ seq, prev_hash: prev, hash }).where("id", "=", r.id).execute();
      prev = hash;
    }
    after = rows[rows.length - 1]!.id;
  }

  await db.schema.createIndex("audit_log_seq").on("audit_log").column("seq").unique().execute();
  await db.schema
    .createTable("audit_head")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();
  await d.insertInto("audit_head").values({ name: "audit", seq, hash: prev }).execute();
}
