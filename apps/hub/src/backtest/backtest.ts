import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import { JobWorker } from "../jobs/job-worker.js";
import type { RemoteClaims } from "../jobs/remote-claims.js";
import { MAX_REMOTE_ATTEMPTS, type RemoteBacktests } from "../training/remote-training.js";
import { BacktestService, type BacktestServiceDeps } from "./backtest-service.js";
import { RemoteBacktest } from "./remote-backtest.js";

/** Backtests and the worker that runs them on this hub. */
export interface Backtests {
  service: BacktestService;
  worker: JobWorker;
}

/**
 * The backtest feature: its service and a worker of its own on the hub's job queue. Backtests
 * run here, next to the archive, with one job at a time (a replay keeps a core busy), or on a
 * `kensa worker` that lists "backtest" (remote-backtest.ts); with training.remote.localBacktests
 * false this hub runs none itself and leaves them all to workers.
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
 * training settings, one backtest at a time (none on a replica that runs no jobs, nor with
 * training.remote.localBacktests false), and offered to `kensa worker`s that run backtests.
 */
export function backtestsOnHub(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  models: BacktestServiceDeps["models"];
  projects: BacktestServiceDeps["projects"];
  training: {
    queue: JobQueue;
    settings: { champion(projectId: string): Promise<{ modelVersionId: string | null }> };
    remote: {
      claims: RemoteClaims;
      attachBacktests(b: RemoteBacktests): void;
      forgetJob(jobId: string): void;
    };
  };
  config: {
    workers: number;
    pollMs: number;
    leaseMs: number;
    remote: { localBacktests: boolean; leaseMs: number };
  };
  log: FastifyBaseLogger;
}): Backtests {
  const { remote } = deps.training;
  const backtests = createBacktests({
    ...deps,
    queue: deps.training.queue,
    champion: async (projectId) => (await deps.training.settings.champion(projectId)).modelVersionId,
    concurrency: deps.config.remote.localBacktests ? Math.min(1, deps.config.workers) : 0,
    pollMs: deps.config.pollMs,
    leaseMs: deps.config.leaseMs,
  });
  remote.attachBacktests(
    new RemoteBacktest({
      ...{ db: deps.db, blobs: deps.blobs, log: deps.log, claims: remote.claims },
      service: backtests.service,
      leaseMs: deps.config.remote.leaseMs,
      maxAttempts: MAX_REMOTE_ATTEMPTS,
      forget: (jobId) => remote.forgetJob(jobId),
    }),
  );
  return backtests;
}
