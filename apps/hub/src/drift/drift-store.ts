import { DRIFT_BINS, DRIFT_EDGES, type TrainingSettings } from "@kensa/contracts";
import { type ExpressionBuilder, type Kysely, type RawBuilder, sql } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { type StoredDriftReference, storedDriftReference } from "../registry/evaluation/drift-reference.js";

/** Headline labels kept per model version (most frames first): a reply stays bounded whatever devices send. */
export const DRIFT_MAX_LABELS = 32;

/** One device's histograms of a model version in a window (counts per bin). */
export interface FieldHistograms {
  deviceId: string;
  frames: number;
  framesWithInput: number;
  luma: number[];
  contrast: number[];
  score: number[];
  scoreByLabel: Map<string, number[]>;
}

/** The evaluation a model version's field is compared with. */
export interface ReferenceRow {
  evaluationId: string;
  snapshotId: string;
  reference: StoredDriftReference;
}

/** `CASE WHEN col < 0.1 THEN 0 … ELSE 9 END`: the bin of a stored 0…1 value, as driftBin gives it. */
function binOf(column: "input_luma" | "input_contrast" | "headline_score"): RawBuilder<number> {
  const whens = DRIFT_EDGES.map((edge, b) => sql`WHEN ${sql.ref(column)} < ${sql.lit(edge)} THEN ${sql.lit(b)}`);
  return sql<number>`CASE ${sql.join(whens, sql` `)} ELSE ${sql.lit(DRIFT_BINS - 1)} END`;
}

const bins = () => new Array<number>(DRIFT_BINS).fill(0);

/**
 * Reads the drift histograms of the field: events of one model version stored in a window,
 * grouped in SQL by device and bin (the columns migration 0027 fills at ingest). Four grouped
 * scans of the window through `events_project_received`; rows never come back one by one.
 */
export async function readFieldHistograms(
  db: Kysely<HubDatabase>,
  q: { projectId: string; modelVersionId: string; from: string; to: string },
): Promise<FieldHistograms[]> {
  const window = (eb: ExpressionBuilder<HubDatabase, "events">) =>
    eb.and([
      eb("project_id", "=", q.projectId),
      eb("received_at", ">=", q.from),
      eb("received_at", "<=", q.to),
      eb("model_version_id", "=", q.modelVersionId),
    ]);
  const [frames, luma, contrast, score] = await Promise.all([
    db
      .selectFrom("events")
      .select((eb) => [
        "device_id",
        eb.fn.countAll<number | string>().as("n"),
        eb.fn.count<number | string>("input_luma").as("with_input"),
      ])
      .where(window)
      .groupBy("device_id")
      .execute(),
    db
      .selectFrom("events")
      .select((eb) => ["device_id", binOf("input_luma").as("bin"), eb.fn.countAll<number | string>().as("n")])
      .where(window)
      .where("input_luma", "is not", null)
      .groupBy(["device_id", "bin"])
      .execute(),
    db
      .selectFrom("events")
      .select((eb) => ["device_id", binOf("input_contrast").as("bin"), eb.fn.countAll<number | string>().as("n")])
      .where(window)
      .where("input_contrast", "is not", null)
      .groupBy(["device_id", "bin"])
      .execute(),
    db
      .selectFrom("events")
      .select((eb) => [
        "device_id",
        "headline_label as label",
        binOf("headline_score").as("bin"),
        eb.fn.countAll<number | string>().as("n"),
      ])
      .where(window)
      .where("headline_score", "is not", null)
      .groupBy(["device_id", "headline_label", "bin"])
      .execute(),
  ]);
  const byDevice = new Map<string, FieldHistograms>();
  for (const r of frames) {
    byDevice.set(r.device_id, {
      deviceId: r.device_id,
      frames: Number(r.n),
      framesWithInput: Number(r.with_input),
      luma: bins(),
      contrast: bins(),
      score: bins(),
      scoreByLabel: new Map(),
    });
  }
  const add = (h: number[], bin: unknown, n: unknown) => {
    const b = Number(bin);
    if (b >= 0 && b < DRIFT_BINS) h[b]! += Number(n);
  };
  for (const r of luma) {
    const d = byDevice.get(r.device_id);
    if (d) add(d.luma, r.bin, r.n);
  }
  for (const r of contrast) {
    const d = byDevice.get(r.device_id);
    if (d) add(d.contrast, r.bin, r.n);
  }
  // labels by frames over the whole window, so every device keeps the same ones
  const labelFrames = new Map<string, number>();
  for (const r of score) if (r.label !== null) labelFrames.set(r.label, (labelFrames.get(r.label) ?? 0) + Number(r.n));
  const kept = new Set(
    [...labelFrames.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, DRIFT_MAX_LABELS)
      .map(([l]) => l),
  );
  for (const r of score) {
    const d = byDevice.get(r.device_id);
    if (!d) continue;
    add(d.score, r.bin, r.n);
    if (r.label === null || !kept.has(r.label)) continue;
    const h = d.scoreByLabel.get(r.label) ?? bins();
    d.scoreByLabel.set(r.label, h);
    add(h, r.bin, r.n);
  }
  return [...byDevice.values()];
}

/**
 * The evaluation of a model version holding a drift reference: the one on the project's
 * evaluation snapshot when it has one, else the latest finished. Null when none does
 * (evaluated before migration 0027, or not evaluated).
 */
export async function readReference(db: Kysely<HubDatabase>, modelVersionId: string): Promise<ReferenceRow | null> {
  const rows = await db
    .selectFrom("evaluations")
    .select(["id", "project_id", "snapshot_id", "metrics", "finished_at"])
    .where("model_version_id", "=", modelVersionId)
    .where("status", "=", "succeeded")
    .orderBy("finished_at", "desc")
    .execute();
  if (rows.length === 0) return null;
  const settings = await db
    .selectFrom("training_settings")
    .select("settings")
    .where("project_id", "=", rows[0]!.project_id)
    .executeTakeFirst();
  const preferred = settings ? (JSON.parse(settings.settings) as TrainingSettings).evaluationSnapshotId : null;
  const ordered = [
    ...rows.filter((r) => r.snapshot_id === preferred),
    ...rows.filter((r) => r.snapshot_id !== preferred),
  ];
  for (const r of ordered) {
    const reference = r.metrics ? storedDriftReference(JSON.parse(r.metrics)) : null;
    if (reference) return { evaluationId: r.id, snapshotId: r.snapshot_id, reference };
  }
  return null;
}

/** The project a model version belongs to, or null when the hub does not know it. */
export async function projectOfModel(db: Kysely<HubDatabase>, modelVersionId: string): Promise<string | null> {
  const row = await db
    .selectFrom("model_versions")
    .select("project_id")
    .where("id", "=", modelVersionId)
    .executeTakeFirst();
  return row?.project_id ?? null;
}

/** Projects whose training settings set a drift threshold, with their settings. */
export async function driftWatchedProjects(
  db: Kysely<HubDatabase>,
): Promise<Array<{ projectId: string; settings: TrainingSettings; cronCheckedAt: string | null }>> {
  const rows = await db
    .selectFrom("training_settings")
    .select(["project_id", "settings", "cron_checked_at"])
    .where("settings", "like", '%"drift":{%')
    .execute();
  return rows
    .map((r) => ({
      projectId: r.project_id,
      settings: JSON.parse(r.settings) as TrainingSettings,
      cronCheckedAt: r.cron_checked_at,
    }))
    .filter((r) => r.settings.triggers.drift);
}
