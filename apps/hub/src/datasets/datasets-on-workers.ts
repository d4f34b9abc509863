import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { RemoteWorkersConfig } from "../config/remote-workers-config.js";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import { JobWorker } from "../jobs/job-worker.js";
import type { RemoteClaims } from "../jobs/remote-claims.js";
import type { RemoteJobKind } from "../jobs/remote-job-kind.js";
import type { ProjectService } from "../projects/project-service.js";
import type { Datasets } from "./datasets.js";
import { RemoteExports } from "./remote-export.js";
import { RemoteImports } from "./remote-import.js";

/**
 * Puts dataset imports and exports on the hub's job queue: queued exports are built by a job
 * worker of their own here (one at a time; none with training.remote.localExports false or on a
 * replica that runs no jobs), imports go to workers with training.remote.localImports false, and
 * `kensa worker`s that list "import" / "export" may claim both.
 */
export function datasetsOnWorkers(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  datasets: Datasets;
  training: {
    queue: JobQueue;
    remote: { claims: RemoteClaims; attachKind(k: RemoteJobKind): void; forgetJob(jobId: string): void };
  };
  config: { workers: number; pollMs: number; leaseMs: number; remote: RemoteWorkersConfig };
  /** claims of one job by workers before the hub fails it */
  maxAttempts: number;
  log: FastifyBaseLogger;
}): void {
  const { datasets, training, config } = deps;
  const worker = new JobWorker({
    queue: training.queue,
    handlers: [datasets.exportJobs.handler()],
    concurrency: config.remote.localExports ? Math.min(1, config.workers) : 0,
    pollMs: config.pollMs,
    renewMs: Math.max(100, Math.floor(config.leaseMs / 3)),
    log: deps.log,
  });
  datasets.exportJobs.attachQueue(training.queue, worker);
  if (!config.remote.localImports) datasets.imports.onWorkers(training.queue);
  const base = {
    db: deps.db,
    blobs: deps.blobs,
    log: deps.log,
    claims: training.remote.claims,
    leaseMs: config.remote.leaseMs,
    maxAttempts: deps.maxAttempts,
    forget: (jobId: string) => training.remote.forgetJob(jobId),
  };
  training.remote.attachKind(new RemoteImports({ ...base, imports: datasets.imports, projects: deps.projects }));
  training.remote.attachKind(new RemoteExports({ ...base, jobs: datasets.exportJobs }));
}
