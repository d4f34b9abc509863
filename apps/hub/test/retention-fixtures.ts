import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { BlobStore } from "../src/blobstore/blob-store.js";
import type { HubDatabase } from "../src/db/schema.js";

/** ISO time `days` days before now. */
export const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

/** Distinct bytes (blobs are content-addressed: equal bytes are one blob). */
export const bytes = (n: number) => new Uint8Array(randomBytes(n));

let seq = 0;

export interface StoredEvent {
  id: string;
  mediaSha: string | null;
  clipSha: string | null;
  incidentId: string | null;
}

/**
 * An event as ingest stores it, received `ageDays` ago, with its frame and clip as uploads
 * store them (blob + row + the hash on the event and incident), and an incident when `incident`
 * names its status.
 */
export async function storeEvent(
  db: Kysely<HubDatabase>,
  blobs: BlobStore,
  o: {
    projectId: string;
    deviceId: string;
    ageDays: number;
    media?: Uint8Array;
    clip?: Uint8Array;
    incident?: "open" | "acknowledged" | "confirmed" | "false_alarm";
  },
): Promise<StoredEvent> {
  const id = `evt-${++seq}-${randomBytes(4).toString("hex")}`;
  const at = daysAgo(o.ageDays);
  const media = o.media ? await blobs.put(o.media) : null;
  const clip = o.clip ? await blobs.put(o.clip) : null;
  await db
    .insertInto("events")
    .values({
      id,
      seq,
      device_id: o.deviceId,
      project_id: o.projectId,
      pipeline: "main",
      source_id: "cam",
      ts: at,
      received_at: at,
      model_version_id: "mdl_x",
      bundle_sha256: "0".repeat(64),
      result: JSON.stringify({ label: "scratch", score: 0.9 }),
      frame_meta: "{}",
      frame_width: 16,
      frame_height: 16,
      latency: "{}",
      media_expected: media ? 1 : 0,
      media_sha256: media?.sha256 ?? null,
    })
    .execute();
  if (media) {
    await db
      .insertInto("event_media")
      .values({
        event_id: id,
        device_id: o.deviceId,
        sha256: media.sha256,
        content_type: "image/jpeg",
        size: media.size,
        created_at: at,
      })
      .execute();
  }
  if (clip) {
    await db
      .insertInto("event_clips")
      .values({
        event_id: id,
        device_id: o.deviceId,
        sha256: clip.sha256,
        content_type: "video/mp4",
        size: clip.size,
        duration_ms: 1000,
        frames: 10,
        created_at: at,
      })
      .execute();
  }
  let incidentId: string | null = null;
  if (o.incident) {
    incidentId = `inc_${randomBytes(8).toString("hex")}`;
    await db
      .insertInto("incidents")
      .values({
        id: incidentId,
        project_id: o.projectId,
        device_id: o.deviceId,
        event_id: id,
        status: o.incident,
        label: "scratch",
        score: 0.9,
        rule: "{}",
        model_version_id: "mdl_x",
        bundle_sha256: "0".repeat(64),
        frame_meta: "{}",
        media_sha256: media?.sha256 ?? null,
        created_at: at,
        acknowledged_by: null,
        acknowledged_at: null,
        clip_sha256: clip?.sha256 ?? null,
        clip_content_type: clip ? "video/mp4" : null,
        clip_size: clip?.size ?? null,
        clip_duration_ms: clip ? 1000 : null,
      })
      .execute();
  }
  return { id, mediaSha: media?.sha256 ?? null, clipSha: clip?.sha256 ?? null, incidentId };
}

/** A capture as the capture route stores it, `ageDays` old, optionally already labeled. */
export async function storeCapture(
  db: Kysely<HubDatabase>,
  blobs: BlobStore,
  o: { projectId: string; deviceId: string; ageDays: number; image: Uint8Array; labeled?: boolean },
): Promise<{ id: string; sha: string }> {
  const { sha256 } = await blobs.put(o.image);
  const id = `smp_${randomBytes(8).toString("hex")}`;
  const at = daysAgo(o.ageDays);
  await db
    .insertInto("samples")
    .values({
      id,
      project_id: o.projectId,
      image_sha256: sha256,
      image_format: "jpeg",
      width: 16,
      height: 16,
      source: "capture",
      device_id: o.deviceId,
      incident_id: null,
      event_id: null,
      reason: "low_confidence",
      captured_at: at,
      import_id: null,
      item: null,
      prediction: null,
      group_key: null,
      external_key: `capture:${o.deviceId}:${id}`,
      current_revision_id: null,
      label_status: o.labeled ? "labeled" : "unlabeled",
      created_at: at,
    })
    .execute();
  return { id, sha: sha256 };
}

/** A snapshot whose manifest (a real blob, its sha256 the id) lists these samples and images. */
export async function storeSnapshot(
  db: Kysely<HubDatabase>,
  blobs: BlobStore,
  projectId: string,
  items: Array<{ sampleId: string; sha256: string }>,
): Promise<string> {
  const manifest = {
    schema: "kensa.snapshot/v1",
    projectId,
    task: "classification",
    labels: ["ok", "scratch"],
    okLabels: ["ok"],
    params: { seed: 1, ratios: { train: 1, val: 0, test: 0 }, groupBucketSec: 0, include: "labeled" },
    items: items.map((i) => ({
      sampleId: i.sampleId,
      image: { sha256: i.sha256, format: "jpeg", width: 16, height: 16 },
      label: { sha256: "0".repeat(64), content: { classes: ["scratch"], objects: [] } },
      groupKey: i.sampleId,
      split: "train",
    })),
  };
  const { sha256: id } = await blobs.put(Buffer.from(JSON.stringify(manifest)));
  await db
    .insertInto("snapshots")
    .values({
      id,
      project_id: projectId,
      name: null,
      params: JSON.stringify(manifest.params),
      sample_count: items.length,
      stats: "{}",
      excluded: "{}",
      created_by: "test",
      created_at: new Date().toISOString(),
    })
    .execute();
  return id;
}
