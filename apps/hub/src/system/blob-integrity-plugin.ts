import { randomUUID } from "node:crypto";
import fp from "fastify-plugin";
import type { Kysely } from "kysely";
import type { Registry } from "prom-client";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { EarlyMedia } from "../incidents/early-media.js";
import { NamedLease } from "../jobs/named-lease.js";
import { BlobIntegrityService, earlyMediaLimits } from "./blob-integrity-service.js";
import type { IntegrityConfig } from "./integrity-config.js";

export interface BlobIntegrityPluginOptions {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  config: { integrity: IntegrityConfig };
  incidents: { earlyMedia: EarlyMedia };
  /** the hub's metrics, whose registry gets the integrity counters */
  metrics: { registry: Registry };
}

/**
 * Blob integrity while the app is up: applies the early-media bounds of the config, counts
 * and records corrupt blobs, and runs the scrub and the early-media sweep (one replica at a
 * time, by the `blob-integrity` lease).
 */
export const blobIntegrityPlugin = fp<BlobIntegrityPluginOptions>(
  async (app, o) => {
    const config = o.config.integrity;
    o.incidents.earlyMedia.setLimits(earlyMediaLimits(config));
    const integrity = new BlobIntegrityService({
      db: o.db,
      blobs: o.blobs,
      earlyMedia: o.incidents.earlyMedia,
      config,
      log: app.log,
      // renewed before every sweep and every 100 blobs of a scrub pass
      lease: new NamedLease(o.db, {
        name: "blob-integrity",
        holder: `hub-${randomUUID()}`,
        ttlMs: Math.max(2 * config.sweepIntervalMinutes * 60_000, 10 * 60_000),
      }),
    });
    integrity.registerMetrics(o.metrics.registry);
    app.addHook("onReady", async () => integrity.start());
    app.addHook("onClose", async () => integrity.stop());
  },
  { name: "kensa-blob-integrity", fastify: "5.x" },
);
