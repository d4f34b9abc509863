import type { Kysely } from "kysely";

/**
 * Shadow agreement: the latest cumulative figures of each device pipeline's counting session of
 * a champion/challenger pair, as its reported state carries them. Keyed by device, pipeline, pair
 * and session start, so a report repeating a session updates its row and a new session (a new
 * pair, an agent restart) adds one; the aggregate sums the rows of a pair.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("shadow_agreement")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("pipeline", "text", (c) => c.notNull())
    .addColumn("champion_model_version_id", "text", (c) => c.notNull())
    .addColumn("challenger_model_version_id", "text", (c) => c.notNull())
    .addColumn("started_at", "text", (c) => c.notNull())
    .addColumn("champion_sha256", "text", (c) => c.notNull())
    .addColumn("challenger_sha256", "text", (c) => c.notNull())
    .addColumn("frames", "bigint", (c) => c.notNull())
    .addColumn("agree", "bigint", (c) => c.notNull())
    .addColumn("captures", "bigint", (c) => c.notNull())
    .addColumn("score_delta_mean", "double precision", (c) => c.notNull())
    .addColumn("score_delta_p95", "double precision", (c) => c.notNull())
    .addColumn("iou_mean", "double precision")
    .addColumn("iou_n", "bigint")
    .addColumn("by_label", "text", (c) => c.notNull())
    .addColumn("reported_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("shadow_agreement_pk", [
      "device_id",
      "pipeline",
      "champion_model_version_id",
      "challenger_model_version_id",
      "started_at",
    ])
    .execute();
  // the registry and the rollout gate read a challenger's rows
  await db.schema
    .createIndex("shadow_agreement_challenger")
    .on("shadow_agreement")
    .columns(["challenger_model_version_id", "started_at"])
    .execute();
}
