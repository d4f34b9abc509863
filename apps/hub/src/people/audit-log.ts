import { randomInt } from "node:crypto";
import type { ActorKind, AuditEntry, AuditPage, AuditQuery } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { AuditLogTable, HubDatabase } from "../db/schema.js";
import { actorOf, type Principal } from "../http/request-auth.js";

export interface AuditTarget {
  /** what kind of thing: "user", "incident", "model", "deployment", "project", "token", … */
  type: string;
  id?: string | null;
}

export interface AuditRecord {
  actor: string;
  actorKind: ActorKind;
  /** `<noun>.<verb>`, e.g. "model.approve" */
  action: string;
  target?: AuditTarget | null;
  details?: Record<string, unknown>;
  ip?: string | null;
}

/** What recordRequest reads from a Fastify request. */
export interface AuditableRequest {
  principal: Principal | null;
  ip: string;
}

/**
 * Who did what, append-only: the hub inserts entries and never updates or deletes one. Call
 * `recordRequest(req, "model.approve", { type: "model", id }, { … })` after an action succeeds.
 */
export class AuditLog {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** `db` may be a transaction, so the entry commits (or not) with the action it records. */
  async record(entry: AuditRecord, db: Kysely<HubDatabase> = this.#db): Promise<AuditEntry> {
    const at = isoNow();
    const row: AuditLogTable = {
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
    await db.insertInto("audit_log").values(row).execute();
    return toAuditEntry(row);
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
  };
}
