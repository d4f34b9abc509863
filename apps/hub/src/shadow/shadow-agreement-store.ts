import type { Reported } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";

/**
 * Keeps the shadow agreement a reported state carries: per device, pipeline, pair and counting
 * session one row holding the latest cumulative figures. A report of a session the hub already
 * has replaces its figures only when it counted more frames, so a late redelivery of an older
 * report (QoS 1) never winds them back and an unchanged one writes nothing.
 */
export async function recordShadowAgreement(
  db: Kysely<HubDatabase>,
  deviceId: string,
  reported: Reported,
  now: string = isoNow(),
): Promise<void> {
  for (const p of reported.pipelines) {
    const a = p.shadowAgreement;
    if (!a || a.frames === 0) continue;
    const figures = {
      champion_sha256: a.bundleSha256,
      challenger_sha256: a.shadowSha256,
      frames: a.frames,
      agree: a.agree,
      captures: a.captures,
      score_delta_mean: a.scoreDelta.mean,
      score_delta_p95: a.scoreDelta.p95,
      iou_mean: a.iou?.mean ?? null,
      iou_n: a.iou?.n ?? null,
      by_label: JSON.stringify(a.byLabel),
      reported_at: reported.ts,
      updated_at: now,
    };
    await db
      .insertInto("shadow_agreement")
      .values({
        device_id: deviceId,
        pipeline: p.id,
        champion_model_version_id: a.bundleModelVersionId,
        challenger_model_version_id: a.shadowModelVersionId,
        started_at: new Date(a.since).toISOString(),
        ...figures,
      })
      .onConflict((oc) =>
        oc
          .columns(["device_id", "pipeline", "champion_model_version_id", "challenger_model_version_id", "started_at"])
          .doUpdateSet(figures)
          .where("shadow_agreement.frames", "<", a.frames),
      )
      .execute();
  }
}
