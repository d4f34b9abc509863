import { randomUUID } from "node:crypto";
import { systemRoutes } from "@kensa/contracts";
import fp from "fastify-plugin";
import type { Kysely } from "kysely";
import type { Registry } from "prom-client";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { IntegrityConfig } from "../config/integrity-config.js";
import type { HubDatabase } from "../db/schema.js";
import { route } from "../http/route.js";
import type { EarlyMedia } from "../incidents/early-media.js";
import { NamedLease } from "../jobs/named-lease.js";
import type { AuditLog } from "../people/audit-log.js";
import { BlobIntegrityService, earlyMediaLimits } from "./blob-integrity-service.js";
import { runFsck } from "./fsck.js";

export interface BlobIntegrityPluginOptions {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  config: { integrity: IntegrityConfig };
  incidents: { earlyMedia: EarlyMedia };
  /** the hub's metrics, whose registry gets the integrity counters */
  metrics: { registry: Registry };
  /** records who repaired what through the API */
  audit: AuditLog;
}

/**
 * Blob integrity while the app is up: applies the early-media bounds of the config, counts
 * and records corrupt blobs, and runs the scrub and the early-media sweep (one replica at a
 * time, by the `blob-integrity` lease); serves fsck to admins.
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
    route(app, systemRoutes.fsck, async (req) => {
      const { repair, orphanGraceHours } = req.body;
      const report = await runFsck(o.db, o.blobs, {
        repair,
        orphanGraceMs: orphanGraceHours * 3_600_000,
        earlyMedia: earlyMediaLimits(config),
      });
      if (repair) {
        await o.audit.recordRequest(req, "blobs.repair", null, {
          quarantined: report.corrupt.filter((c) => c.action === "quarantined").map((c) => c.sha256),
          markedMissing: report.missing.map((m) => m.sha256),
          deletedOrphans: report.orphanBlobs.filter((b) => b.action === "deleted").map((b) => b.sha256),
          removedEarlyMedia: report.orphanEarlyMedia.filter((e) => e.action === "removed").length,
        });
      }
      return report;
    });
  },
  { name: "kensa-blob-integrity", dependencies: ["kensa-http"], fastify: "5.x" },
);
