import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import fp from "fastify-plugin";
import type { Kysely } from "kysely";
import type { Registry } from "prom-client";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { RetentionConfig } from "../config/retention-config.js";
import type { HubDatabase } from "../db/schema.js";
import { NamedLease } from "../jobs/named-lease.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ProjectService } from "../projects/project-service.js";
import { LegalHoldService } from "./hold-service.js";
import { RetentionPolicyService } from "./policy-service.js";
import { RetentionJob } from "./retention-job.js";
import { registerRetentionMetrics } from "./retention-metrics.js";
import { retentionRoutes } from "./retention-routes.js";
import { retentionDb } from "./retention-tables.js";

export interface RetentionPluginOptions {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  audit: AuditLog;
  /** the hub's config, of which retention reads `retention` */
  config: { retention: RetentionConfig };
  /** the hub's metrics, whose registry the retention counters join */
  metrics: { registry: Registry };
  /** this replica's name in the lease; host, pid and a random part by default */
  holder?: string;
}

/** ms the retention lease lasts unless renewed (the running replica renews it a third of the way) */
const LEASE_MS = 60_000;

/**
 * Retention: the routes for policies, holds and runs, and the job that applies them once the
 * hub listens (and stops with it). Decorates the app with `retention` (the job) for tests and
 * the composition root.
 */
export const retentionPlugin = fp<RetentionPluginOptions>(
  async (app, o) => {
    const db = retentionDb(o.db);
    const config = o.config.retention;
    const policies = new RetentionPolicyService(db, o.projects, config);
    const holds = new LegalHoldService(db, o.projects);
    const holder = o.holder ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
    const lease = new NamedLease(o.db, { name: "retention", holder, ttlMs: LEASE_MS });
    const job = new RetentionJob({ db: o.db, blobs: o.blobs, policies, holds, config, lease, log: app.log });
    registerRetentionMetrics(o.metrics.registry, job);
    retentionRoutes(app, { policies, holds, job, audit: o.audit });
    app.decorate("retention", job);
    app.addHook("onListen", async () => job.start());
    app.addHook("onClose", async () => job.stop());
  },
  { name: "kensa-retention", dependencies: ["kensa-http"], fastify: "5.x" },
);

declare module "fastify" {
  interface FastifyInstance {
    /** the retention job (runs, counters) */
    retention: RetentionJob;
  }
}
