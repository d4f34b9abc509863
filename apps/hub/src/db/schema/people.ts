// Users, their sessions and API tokens, and the audit log of what they did.

export interface UsersTable {
  id: string;
  /** lower-case, unique */
  username: string;
  display_name: string;
  role: string;
  /** `scrypt$N$r$p$salt$key` (base64url salt and key) */
  password_hash: string;
  disabled: number;
  created_at: string;
  /** JSON array of the site ids the user is scoped to; null (or absent before 0031) = every site */
  sites?: string | null;
}

/** Keyed by sha256 of the cookie's token; the token itself is never stored. */
export interface SessionsTable {
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
  ip: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  /** sha256 of the token, hex */
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
}

/** Append-only: rows are inserted, never updated or deleted. */
export interface AuditLogTable {
  id: string;
  at: string;
  actor: string;
  actor_kind: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: string;
  ip: string | null;
  /** place in the hash chain, from 1, no gaps (db/audit-hash.ts) */
  seq: number;
  /** `hash` of entry seq - 1; zeros for the first */
  prev_hash: string;
  /** sha256 of this entry's canonical form */
  hash: string;
}

/** One row, `name` "audit": the chain's last entry, updated under its row lock by every append. */
export interface AuditHeadTable {
  name: string;
  seq: number;
  hash: string;
}
