import {
  type GoldenFrame,
  type GoldenSet,
  type GoldenTolerances,
  goldenOutputOf,
  type ModelManifest,
  type ModelVersion,
  type Precision,
  type SnapshotManifest,
  type Task,
} from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";

/** Frames a bundle carries: enough to catch a model computing something else, few enough to test in a second. */
export const GOLDEN_FRAMES = 6;

/**
 * Tolerances per task and precision. The golden outputs are the hub's run of the very file the
 * bundle ships, so only the device's runtime and CPU differ: fp32 agrees to rounding, int8 kernels
 * differ by a quantisation step or so between CPUs (one borderline frame of six may flip).
 */
export function defaultTolerances(task: Task, precision: Precision): GoldenTolerances {
  const int8 = precision === "int8";
  return {
    top1Agreement: int8 ? 0.8 : 1,
    scoreDelta: task === "classification" ? (int8 ? 0.05 : 0.02) : int8 ? 0.1 : 0.05,
    boxIou: int8 ? 0.8 : 0.9,
    maskIou: int8 ? 0.75 : 0.85,
  };
}

/** The frozen set golden frames come from: a snapshot and its test images, or none and why. */
export interface GoldenSource {
  snapshotId: string | null;
  note: string;
  items: Array<{ sampleId: string; image: { sha256: string; width: number; height: number } }>;
}

/**
 * The snapshot the model was judged on — its latest gate report's, else its latest successful
 * evaluation's, else the one it was trained on — and up to GOLDEN_FRAMES of its test images,
 * spread over the labels. A model uploaded by hand and never evaluated has none.
 */
export async function goldenSourceFor(
  db: Kysely<HubDatabase>,
  blobs: BlobStore,
  model: ModelVersion,
): Promise<GoldenSource> {
  const gate = await db
    .selectFrom("gate_reports")
    .select("snapshot_id")
    .where("model_version_id", "=", model.id)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  const evaluated = gate
    ? undefined
    : await db
        .selectFrom("evaluations")
        .select("snapshot_id")
        .where("model_version_id", "=", model.id)
        .where("status", "=", "succeeded")
        .orderBy("created_at", "desc")
        .executeTakeFirst();
  const snapshotId = gate?.snapshot_id ?? evaluated?.snapshot_id ?? model.lineage?.snapshotId ?? null;
  if (!snapshotId) {
    return {
      snapshotId: null,
      note: "no golden frames: the model version has no evaluation snapshot (never gated, evaluated or trained here)",
      items: [],
    };
  }
  const bytes = await blobs.get(snapshotId);
  if (!bytes) return { snapshotId, note: `no golden frames: snapshot ${snapshotId} is missing`, items: [] };
  const manifest = JSON.parse(Buffer.from(bytes).toString("utf8")) as SnapshotManifest;
  const test = manifest.items.filter((i) => i.split === "test");
  if (test.length === 0) return { snapshotId, note: "no golden frames: the snapshot has no test split", items: [] };
  // round robin over each image's first label, in sample id order: both OK and defect frames
  const byLabel = new Map<string, typeof test>();
  for (const it of test) {
    const label = it.label.content.classes[0] ?? it.label.content.objects[0]?.label ?? "";
    byLabel.set(label, [...(byLabel.get(label) ?? []), it]);
  }
  const queues = [...byLabel.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, q]) => q);
  const picked: typeof test = [];
  for (let round = 0; picked.length < GOLDEN_FRAMES && queues.some((q) => q.length > round); round++) {
    for (const q of queues) if (q[round] && picked.length < GOLDEN_FRAMES) picked.push(q[round]!);
  }
  return {
    snapshotId,
    note: `${picked.length} of the ${test.length} test images of the model's evaluation snapshot`,
    items: picked.map((i) => ({ sampleId: i.sampleId, image: i.image })),
  };
}

/**
 * The golden set of one model file: each source frame run through it on the hub, with the same
 * preprocessing and postprocessing an agent applies (@kensa/vision's Inferencer).
 */
export async function computeGoldenSet(
  modelBytes: Uint8Array,
  manifest: ModelManifest,
  precision: Precision,
  source: GoldenSource,
  blobs: BlobStore,
): Promise<GoldenSet> {
  const tolerances = defaultTolerances(manifest.task, precision);
  if (source.items.length === 0) {
    return { source: "none", snapshotId: source.snapshotId, note: source.note, tolerances, frames: [] };
  }
  const inf = await Inferencer.create(modelBytes, manifest, { intraOpThreads: 1, spinning: false });
  const frames: GoldenFrame[] = [];
  try {
    for (const item of source.items) {
      const bytes = await blobs.get(item.image.sha256);
      if (!bytes) continue;
      // an image the model's preprocessing cannot decode is no golden frame; the others still are
      const r = await inf.infer(bytes).catch(() => null);
      if (!r) continue;
      frames.push({
        sha256: item.image.sha256,
        size: bytes.byteLength,
        width: r.frame.width,
        height: r.frame.height,
        sampleId: item.sampleId,
        expected: goldenOutputOf(r.result),
      });
    }
  } finally {
    await inf.close();
  }
  return {
    source: frames.length > 0 ? "snapshot" : "none",
    snapshotId: source.snapshotId,
    note:
      frames.length > 0
        ? `${source.note}${frames.length < source.items.length ? ` (${source.items.length - frames.length} unreadable, left out)` : ""}`
        : `no golden frames: the test images of ${source.snapshotId} are missing or unreadable`,
    tolerances,
    frames,
  };
}
