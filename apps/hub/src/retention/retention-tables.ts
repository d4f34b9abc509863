import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** A project's own retention settings (RetentionOverride as JSON); one row per project that set any. */
export interface RetentionPoliciesTable {
  project_id: string;
  policy: string;
  updated_by: string;
  updated_at: string;
}

/** A legal hold; in force while `released_at` is null. */
export interface LegalHoldsTable {
  id: string;
  project_id: string;
  /** project | device | incident */
  scope: string;
  target_id: string;
  reason: string;
  created_by: string;
  created_at: string;
  released_at: string | null;
  released_by: string | null;
}

/** One retention run and its result (RetentionRun as JSON). */
export interface RetentionRunsTable {
  id: string;
  holder: string;
  started_at: string;
  finished_at: string;
  result: string;
}

// a type alias, not an interface: Kysely's `withTables` wants an index-compatible record
export type RetentionTables = {
  retention_policies: RetentionPoliciesTable;
  legal_holds: LegalHoldsTable;
  retention_runs: RetentionRunsTable;
};

export type RetentionDb = Kysely<HubDatabase & RetentionTables>;

/** The hub's database with the retention tables (migration 0015) in its type. */
export function retentionDb(db: Kysely<HubDatabase>): RetentionDb {
  return db.withTables<RetentionTables>();
}
