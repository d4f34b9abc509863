import { createHash } from "node:crypto";

/** The `prev_hash` of the first entry of the chain: no entry came before it. */
export const AUDIT_GENESIS_HASH = "0".repeat(64);

/** Every stored field of an audit entry, as the `audit_log` row holds it. */
export interface AuditHashInput {
  seq: number;
  id: string;
  at: string;
  actor: string;
  actor_kind: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  /** the stored JSON text, hashed as stored (no re-serialization that could reorder keys) */
  details: string;
  ip: string | null;
  prev_hash: string;
}

/**
 * sha256 (hex) of an entry's canonical form: a JSON array of every field in a fixed order behind
 * a version tag. JSON text of strings, integers and nulls is unambiguous (no separator inside a
 * field can shift a boundary), and the sequence number and the previous hash are part of it, so
 * a deleted, inserted, reordered or changed entry breaks the chain. Version 1 never changes: the
 * migration that chained the entries written before the chain uses it, and so do verifiers of
 * old databases; a different form would be "kensa-audit-v2" beside it.
 */
export function auditEntryHash(e: AuditHashInput): string {
  const canonical = JSON.stringify([
    "kensa-audit-v1",
    e.seq,
    e.id,
    e.at,
    e.actor,
    e.actor_kind,
    e.action,
    e.target_type,
    e.target_id,
    e.details,
    e.ip,
    e.prev_hash,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}
