import { randomInt } from "node:crypto";
import type { ActorKind, AuditEntry, AuditPage, AuditQuery, AuditVerifyReport } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import { auditEntryHash } from "../db/audit-hash.js";
import type { AuditLogTable, HubDatabase } from "../db/schema.js";
import { actorOf, type Principal } from "../http/request-auth.js";
import { type AuditAnchor, AuditAnchors, readAnchors } from "./audit-anchor.js";
import type { AuditRecord, AuditTarget } from "./audit-record.js";
import { AuditRefusals, type RefusalLimits } from "./audit-refusals.js";
import { verifyAuditChain } from "./audit-verify.js";

export type { AuditRecord, AuditTarget };

/** What recordRequest reads from a Fastify request. */
export interface AuditableRequest {
  principal: Principal | null;
  ip: string;
}

/**
 * Who did what, append-only and hash-chained (docs/security.md): the hub inserts entries and
 * never updates or deletes one, and each carries the hash of the one before. Call
 * `recordRequest(req, "model.approve", { type: "model", id }, { … })` after an action succeeds.
 */
export class AuditLog {
  /** refused calls and MQTT ACL violations, rate limited */
  readonly refusals: AuditRefusals;
  /** the anchor log in the data dir; null without one */
  readonly anchors: AuditAnchors | null;
  #db: Kysely<HubDatabase>;
  #appended = 0;
  #anchoredSeq = -1;

  constructor(db: Kysely<HubDatabase>, opts: { dataDir?: string; refusalLimits?: Partial<RefusalLimits> } = {}) {
    this.#db = db;
    this.anchors = opts.dataDir ? new AuditAnchors(opts.dataDir) : null;
    this.refusals = new AuditRefusals((r) => this.record(r), opts.refusalLimits);
  }

  /** The chain's last entry (seq 0 and zeros while it is empty). */
  async head(): Promise<{ seq: number; hash: string }> {
    const h = await this.#db
      .selectFrom("audit_head")
      .select(["seq", "hash"])
      .where("name", "=", "audit")
      .executeTakeFirstOrThrow();
    return { seq: Number(h.seq), hash: h.hash };
  }

  /**
   * Writes the head to the anchor log unless this process already anchored it; returns the
   * anchor, or null when nothing changed (or there is no data dir).
   */
  async anchor(): Promise<AuditAnchor | null> {
    if (!this.anchors) return null;
    const head = await this.head();
    if (head.seq === this.#anchoredSeq) return null;
    const a = await this.anchors.write(head);
    this.#anchoredSeq = head.seq;
    return a;
  }

  /** Checks the chain, its head and the data dir's anchors (docs/security.md). */
  async verify(): Promise<AuditVerifyReport> {
    const log = this.anchors ? await readAnchors(this.anchors.dir) : { lines: [], publicKey: null };
    return verifyAuditChain(this.#db, log);
  }

  /**
   * Appends the entry to the hash chain. `db` may be a transaction, so the entry commits (or not)
   * with the action it records; otherwise the append is its own transaction.
   */
  async record(entry: AuditRecord, db: Kysely<HubDatabase> = this.#db): Promise<AuditEntry> {
    const at = isoNow();
    const fields = {
      id: auditId(at),
      at,
      actor: entry.actor,
      actor_kind: entry.actorKind,
      action: entry.action,
      target_type: entry.target?.type ?? null,
      target_id: entry.target?.id ?? null,
      details: JSON.stringify(entry.details ?? {}),
      ip: entry.ip ?? null,
    };
    const row = db.isTransaction
      ? await appendChained(db, fields)
      : await db.transaction().execute((trx) => appendChained(trx, fields));
    this.#appended++;
    return toAuditEntry(row);
  }

  /** Entries this process appended since it started. */
  get appended(): number {
    return this.#appended;
  }

  /** Records an action of the request's caller (user, admin token or device) from its address. */
  recordRequest(
    req: AuditableRequest,
    action: string,
    target?: AuditTarget | null,
    details?: Record<string, unknown>,
    db?: Kysely<HubDatabase>,
  ): Promise<AuditEntry> {
    return this.record({ ...actorOf(req), action, target, details, ip: req.ip }, db);
  }

  /** Newest first. */
  async list(query: AuditQuery): Promise<AuditPage> {
    let q = this.#db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(query.limit);
    if (query.before) q = q.where("id", "<", query.before);
    if (query.action) q = q.where("action", "=", query.action);
    if (query.actor) q = q.where("actor", "=", query.actor);
    if (query.target) {
      const colon = query.target.indexOf(":");
      const type = colon < 0 ? query.target : query.target.slice(0, colon);
      q = q.where("target_type", "=", type);
      if (colon >= 0) q = q.where("target_id", "=", query.target.slice(colon + 1));
    }
    const items = (await q.execute()).map(toAuditEntry);
    return { items, next: items.length === query.limit ? items[items.length - 1]!.id : null };
  }
}

/**
 * The append, one at a time across every replica on the database: the first statement moves the
 * head row on and holds its row lock (PostgreSQL) or the write lock (SQLite) until the
 * transaction ends, so the next append reads this one's hash. Its cost is one update, one insert
 * and one update in the transaction the entry was written in anyway.
 */
async function appendChained(
  trx: Kysely<HubDatabase>,
  fields: Omit<AuditLogTable, "seq" | "prev_hash" | "hash">,
): Promise<AuditLogTable> {
  const head = await trx
    .updateTable("audit_head")
    .set((eb) => ({ seq: eb("seq", "+", 1) }))
    .where("name", "=", "audit")
    .returning(["seq", "hash"])
    .executeTakeFirstOrThrow();
  const seq = Number(head.seq);
  const row: AuditLogTable = { ...fields, seq, prev_hash: head.hash, hash: "" };
  row.hash = auditEntryHash(row);
  await trx.insertInto("audit_log").values(row).execute();
  await trx.updateTable("audit_head").set({ hash: row.hash }).where("name", "=", "audit").execute();
  return row;
}

/**
 * Time-sortable and digits only after the prefix, so text order is time order under any
 * database collation; the random tail keeps replicas writing in the same ms apart.
 */
function auditId(at: string): string {
  const ms = String(Date.parse(at)).padStart(15, "0");
  return `aud_${ms}${String(randomInt(1_000_000)).padStart(6, "0")}`;
}

function toAuditEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    actorKind: row.actor_kind as ActorKind,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    details: JSON.parse(row.details) as Record<string, unknown>,
    ip: row.ip,
    seq: Number(row.seq),
    hash: row.hash,
  };
}
