import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import { JobWorker } from "../jobs/job-worker.js";
import { BacktestService, type BacktestServiceDeps } from "./backtest-service.js";

/** Backtests and the worker that runs them on this hub. */
export interface Backtests {
  service: BacktestService;
  worker: JobWorker;
}

/**
 * The backtest feature: its service and a worker of its own on the hub's job queue. Backtests
 * run here, next to the archive, with one job at a time (a replay keeps a core busy); remote
 * `kensa worker`s claim training jobs only.
 */
export function createBacktests(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  models: BacktestServiceDeps["models"];
  projects: BacktestServiceDeps["projects"];
  queue: JobQueue;
  champion: BacktestServiceDeps["champion"];
  /** backtests this hub runs at once: 0 leaves them to other replicas (training.workers = 0) */
  concurrency: number;
  /** ms between looks at the queue */
  pollMs: number;
  /** ms a job's lease lasts unless renewed */
  leaseMs: number;
  log: FastifyBaseLogger;
}): Backtests {
  let worker: JobWorker | null = null;
  const service = new BacktestService({ ...deps, kick: () => worker?.kick() });
  worker = new JobWorker({
    queue: deps.queue,
    handlers: [service.handler()],
    concurrency: deps.concurrency,
    pollMs: deps.pollMs,
    renewMs: Math.max(100, Math.floor(deps.leaseMs / 3)),
    log: deps.log,
  });
  return { service, worker };
}

/**
 * The feature as the hub builds it: on the training queue, with the project's champion from the
 * training settings, one backtest at a time (none on a replica that runs no jobs).
 */
export function backtestsOnHub(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  models: BacktestServiceDeps["models"];
  projects: BacktestServiceDeps["projects"];
  training: {
    queue: JobQueue;
    settings: { champion(projectId: string): Promise<{ modelVersionId: string | null }> };
  };
  config: { workers: number; pollMs: number; leaseMs: number };
  log: FastifyBaseLogger;
}): Backtests {
  return createBacktests({
    ...deps,
    queue: deps.training.queue,
    champion: async (projectId) => (await deps.training.settings.champion(projectId)).modelVersionId,
    concurrency: Math.min(1, deps.config.workers),
    pollMs: deps.config.pollMs,
    leaseMs: deps.config.leaseMs,
  });
}
