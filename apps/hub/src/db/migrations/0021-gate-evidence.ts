import type { Kysely } from "kysely";

/**
 * Gate evidence: each gate report keeps the intervals, the paired difference and its test that
 * the decision rested on (JSON), and the decision as one reason code. Reports made before have
 * neither (null).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("gate_reports").addColumn("evidence", "text").execute();
  await db.schema.alterTable("gate_reports").addColumn("reason_code", "text").execute();
}
