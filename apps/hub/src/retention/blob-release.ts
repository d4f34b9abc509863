import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { RunCounters } from "./run-counters.js";

/** The part of the blob store retention uses: removing a blob nothing references any more. */
export interface BlobRemover {
  delete(sha256: string): Promise<boolean>;
}

/**
 * Every column that stores a blob hash (the same list `kensa hub fsck` walks, in
 * system/blob-references.ts). Blobs are content-addressed and shared: the same frame can be an
 * event's media, an incident's, a sample's image and an image in a snapshot. A blob is removed
 * only when none of these names it and it is not among the blobs the run protects (what label
 * revisions name as masks, what snapshot manifests name: see snapshot-refs.ts). `events.media_sha256` is not looked at (it has no index, and events are the
 * largest table): ingest copies it from the event's `event_media` row, which is looked at, and
 * retention clears it when it deletes that row.
 */
const REFERENCES: ReadonlyArray<{ table: keyof HubDatabase; column: string }> = [
  { table: "event_media", column: "sha256" },
  { table: "event_clips", column: "sha256" },
  { table: "incidents", column: "media_sha256" },
  { table: "incidents", column: "clip_sha256" },
  { table: "samples", column: "image_sha256" },
  { table: "snapshots", column: "id" },
  { table: "model_versions", column: "sha256" },
  { table: "model_versions", column: "int8_sha256" },
  { table: "bundles", column: "sha256" },
  // a bundle's model file and golden frames, which devices fetch while the bundle is deployed
  { table: "bundle_files", column: "sha256" },
  { table: "deployments", column: "bundle_sha256" },
  { table: "training_runs", column: "log_sha256" },
  { table: "project_references", column: "image_sha256" },
];

/** Whether anything in the database still names `sha256`. */
export async function blobReferenced(db: Kysely<HubDatabase>, sha256: string): Promise<boolean> {
  for (const { table, column } of REFERENCES) {
    const row = await db
      .selectFrom(table)
      // biome-ignore lint/suspicious/noExplicitAny: the column list above is checked by the tests, not the type
      .select(column as any)
      // biome-ignore lint/suspicious/noExplicitAny: as above
      .where(column as any, "=", sha256)
      .limit(1)
      .executeTakeFirst();
    if (row) return true;
  }
  return false;
}

/**
 * Removes the blobs whose last reference a batch deleted, after that batch committed: a blob
 * still named elsewhere (or in a snapshot) stays and is counted as shared.
 */
export async function releaseBlobs(
  db: Kysely<HubDatabase>,
  store: BlobRemover,
  shas: Iterable<{ sha256: string; size: number }>,
  /** blobs named where no column holds them: snapshot manifests, masks in label content */
  protectedBlobs: ReadonlySet<string>,
  counters: RunCounters,
): Promise<void> {
  const seen = new Set<string>();
  for (const { sha256, size } of shas) {
    if (seen.has(sha256)) continue;
    seen.add(sha256);
    if (protectedBlobs.has(sha256) || (await blobReferenced(db, sha256))) {
      counters.kept.sharedBlob++;
      continue;
    }
    if (await store.delete(sha256)) {
      counters.deleted.blobs++;
      counters.bytesFreed += size;
    }
  }
}
