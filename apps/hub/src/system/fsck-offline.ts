import { join } from "node:path";
import { FsBlobStore } from "../blobstore/fs/fs-blob-store.js";
import type { HubConfig } from "../config.js";
import { openDatabase } from "../db/open-database.js";
import { earlyMediaLimits } from "./blob-integrity-service.js";
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
    const blobs = new FsBlobStore(join(config.dataDir, "blobs"));
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
