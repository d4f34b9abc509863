import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** The tables the dispatcher sends from: incident notifications, rollout alerts and model (drift) alerts. */
export type QueueTable = "notifications" | "rollout_notifications" | "model_notifications";

/** Every queue table, in the order the dispatcher looks at them. */
export const QUEUE_TABLES: readonly QueueTable[] = ["notifications", "rollout_notifications", "model_notifications"];

/** The columns the tables share, which the queue's claims, outcomes and limits read and write. */
export interface QueueColumns {
  id: string;
  project_id: string;
  channel: string;
  target: string;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  sent_at: string | null;
  claimed_by: string | null;
}

/**
 * The database seen as tables of queue columns only, so one query serves either table. Sound
 * because each table has every column of QueueColumns with the same type (checked below).
 */
export function queueDb(db: Kysely<HubDatabase>): Kysely<Record<QueueTable, QueueColumns>> {
  return db as unknown as Kysely<Record<QueueTable, QueueColumns>>;
}

// compile-time check that the tables really carry the queue columns
type Has<T> = T extends QueueColumns ? true : never;
const _tablesAreQueues: [
  Has<HubDatabase["notifications"]>,
  Has<HubDatabase["rollout_notifications"]>,
  Has<HubDatabase["model_notifications"]>,
] = [true, true, true];
void _tablesAreQueues;
