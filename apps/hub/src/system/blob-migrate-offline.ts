import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KensaError, parseWith } from "@kensa/contracts";
import type { BlobStore } from "../blobstore/blob-store.js";
import { type BlobsConfig, BlobsConfigSchema, checkBlobsConfig } from "../config/blobs-config.js";
import type { HubConfig } from "../config.js";
import { type BlobMigrateReport, migrateBlobs } from "./blob-migrate.js";
import { openBlobStoreOffline } from "./blob-migrate-open.js";

export type { BlobMigrateReport } from "./blob-migrate.js";

/** A store's name in reports and the state file: `fs:<dir>` or `s3:<endpoint>/<bucket>/<prefix>`. */
export function describeBlobs(blobs: BlobsConfig, dataDir: string): string {
  if (blobs.kind === "fs" || !blobs.s3) return `fs:${resolve(blobs.dir ?? join(dataDir, "blobs"))}`;
  const s3 = blobs.s3;
  return `s3:${s3.endpoint ?? `aws:${s3.region}`}/${s3.bucket}/${s3.prefix}`;
}

/**
 * Reads a `blobs` section from a JSON file: a hub config holding one (`{"blobs": {…}}`) or the
 * section alone (`{"kind": "s3", "s3": {…}}`).
 */
export async function readBlobsConfig(file: string): Promise<BlobsConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      `cannot read blob store config ${file}: ${(err as Error).message}`,
    );
  }
  const section = json && typeof json === "object" && "blobs" in json ? (json as { blobs: unknown }).blobs : json;
  const blobs = parseWith(BlobsConfigSchema, section, "KENSA_ERR_CONFIG_INVALID", `blob store config ${file}`);
  checkBlobsConfig(blobs, "/blobs");
  return blobs;
}

export interface MigrateOfflineOptions {
  /** the target store's section */
  to: BlobsConfig;
  /** the source store's section; the hub config's `blobs` when omitted */
  from?: BlobsConfig;
  /** `<dataDir>/blob-migrate.json` when omitted */
  stateFile?: string;
  restart?: boolean;
  parallel?: number;
  env?: Record<string, string | undefined>;
  onProgress?: (r: BlobMigrateReport) => void;
}

/**
 * `kensa hub blobs migrate`: copies a hub's blobs from the store its config names (or `from`)
 * into `to`, beside a running hub or without one. Refuses a target that is the source.
 */
export async function migrateBlobsOffline(config: HubConfig, o: MigrateOfflineOptions): Promise<BlobMigrateReport> {
  const env = o.env ?? process.env;
  const fromConfig = o.from ?? config.blobs;
  const from = describeBlobs(fromConfig, config.dataDir);
  const to = describeBlobs(o.to, config.dataDir);
  if (from === to) {
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      `the target blob store is the source (${from}): nothing to migrate`,
      {
        issues: [{ path: "/blobs", message: "the target is the source" }],
      },
    );
  }
  const src = await openBlobStoreOffline(config, fromConfig, env);
  const dst = await openBlobStoreOffline(config, o.to, env);
  try {
    return await migrateBlobs(src, dst, {
      from,
      to,
      stateFile: o.stateFile ?? join(config.dataDir, "blob-migrate.json"),
      ...(o.restart ? { restart: true } : {}),
      ...(o.parallel ? { parallel: o.parallel } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  } finally {
    closeStore(src);
    closeStore(dst);
  }
}

function closeStore(store: BlobStore): void {
  (store as BlobStore & { close?: () => void }).close?.();
}
