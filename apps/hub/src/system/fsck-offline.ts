import type { HubConfig } from "../config.js";
import { openDatabase } from "../db/open-database.js";
import { earlyMediaLimits } from "./blob-integrity-service.js";
import { openBlobStoreOffline } from "./blob-migrate-open.js";
import { type FsckReport, runFsck } from "./fsck.js";

export { type FsckReport, fsckClean } from "./fsck.js";

/**
 * fsck against a hub's data dir and database (SQLite or PostgreSQL, as its config says),
 * with or without the hub running: the same blob store and database the hub opens.
 */
export async function fsckOffline(
  config: HubConfig,
  o: { repair: boolean; orphanGraceMs: number; now?: Date },
): Promise<FsckReport> {
  const store = await openDatabase(config);
  try {
    // the store the hub is configured with (its data dir's folder or its S3 bucket)
    const blobs = await openBlobStoreOffline(config, config.blobs, process.env);
    return await runFsck(store.db, blobs, {
      repair: o.repair,
      orphanGraceMs: o.orphanGraceMs,
      earlyMedia: earlyMediaLimits(config.integrity),
      ...(o.now ? { now: o.now } : {}),
    });
  } finally {
    await store.close();
  }
}
