import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubConfig } from "../config.js";
import type { Datasets } from "../datasets/datasets.js";
import type { HubDatabase } from "../db/schema.js";
import type { OnDrift } from "../drift/drift-service.js";
import type { DeploymentService } from "../fleet/deployment-service.js";
import { DbJobQueue } from "../jobs/db-job-queue.js";
import type { JobQueue } from "../jobs/job-queue.js";
import { JobWorker } from "../jobs/job-worker.js";
import { NamedLease } from "../jobs/named-lease.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ProjectService } from "../projects/project-service.js";
import { EvaluationService } from "../registry/evaluation/evaluation-service.js";
import { GateService } from "../registry/gate-service.js";
import type { ModelService } from "../registry/model-service.js";
import { RegistryService } from "../registry/registry-service.js";
import { importsTorch, resolvePython } from "./python.js";
import { RemoteTraining } from "./remote-training.js";
import { RunEvents } from "./run-events.js";
import { RunService } from "./run-service.js";
import { TrainHandler } from "./train-handler.js";
import { BUILTIN_TRAINER_DIR, TrainerRegistry } from "./trainer-registry.js";
import { TrainingSettingsService } from "./training-settings-service.js";
import { TriggerScheduler } from "./trigger-scheduler.js";

/** Training, evaluation and the registry: the hub's half of the MLOps loop. */
export interface Training {
  queue: JobQueue;
  worker: JobWorker;
  trainers: TrainerRegistry;
  runs: RunService;
  runEvents: RunEvents;
  evaluations: EvaluationService;
  gate: GateService;
  registry: RegistryService;
  settings: TrainingSettingsService;
  triggers: TriggerScheduler;
  /** training on other machines: what `kensa worker` calls */
  remote: RemoteTraining;
  /** whether the built-in PyTorch trainer can run here, and with which Python */
  builtinTrainer(): Promise<{ available: boolean; python: string }>;
  /** settles what a stopped hub left running (leases run out); call before serving, then it runs now and then */
  recover(): Promise<{ failedRuns: string[]; requeued: string[] }>;
  start(): void;
  stop(): Promise<void>;
}

export function createTraining(deps: {
  config: HubConfig;
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  datasets: Datasets;
  models: ModelService;
  deployments: DeploymentService;
  /** the gate's own approvals and rejections, and triggered runs, are recorded as "system" */
  audit?: AuditLog;
  log: FastifyBaseLogger;
  env?: NodeJS.ProcessEnv;
  /** told of each drift alert, to reach people through their channels (notify/drift-alerts.ts) */
  onDrift?: OnDrift;
}): Training {
  const { config, db, blobs, log } = deps;
  const cfg = config.training;
  const workDir = cfg.workDir ?? join(config.dataDir, "runs");
  const queue = new DbJobQueue(db, { leaseMs: cfg.leaseMs });
  const trainers = new TrainerRegistry(cfg, deps.env);
  const runEvents = new RunEvents();
  const settings = new TrainingSettingsService(db, deps.projects, deps.datasets.snapshots);
  // the worker needs the handlers and the handlers wake the worker: tie the knot lazily
  let worker: JobWorker | null = null;
  let remote: RemoteTraining | null = null;
  const kick = () => worker?.kick();
  const runs = new RunService({
    db,
    blobs,
    projects: deps.projects,
    snapshots: deps.datasets.snapshots,
    settings,
    queue,
    trainers,
    events: runEvents,
    workDir,
    kick,
    // a run a remote worker trains is cancelled at the worker's next renewal (remote-training.ts)
    abort: (jobId) => (worker?.abort(jobId, "cancel") ?? false) || (remote?.cancel(jobId) ?? false),
  });
  const evaluations = new EvaluationService({
    db,
    blobs,
    models: deps.models,
    snapshots: deps.datasets.snapshots,
    settings,
    queue,
    kick,
    threads: 1,
    local: cfg.remote.localEvaluation,
    pollMs: cfg.pollMs,
  });
  const registry = new RegistryService({
    db,
    models: deps.models,
    settings,
    deployments: deps.deployments,
    evaluations,
    runs,
    projects: deps.projects,
    snapshots: deps.datasets.snapshots,
    log,
  });
  const gate = new GateService({
    db,
    models: deps.models,
    settings,
    evaluations,
    registry,
    queue,
    kick,
    log,
    ...(deps.audit ? { audit: deps.audit } : {}),
  });
  const train = new TrainHandler({
    runs,
    snapshots: deps.datasets.snapshots,
    blobs,
    trainers,
    models: deps.models,
    queue,
    log,
    kick,
  });
  remote = new RemoteTraining({
    db,
    config: cfg.remote,
    pollMs: cfg.pollMs,
    runs,
    snapshots: deps.datasets.snapshots,
    blobs,
    models: deps.models,
    evaluations,
    queue,
    log,
    kick,
  });
  worker = new JobWorker({
    queue,
    // with localTraining / localEvaluation off, those jobs wait for a `kensa worker`; the gate stays here
    handlers: [
      ...(cfg.remote.localTraining ? [train] : []),
      ...(cfg.remote.localEvaluation ? [evaluations.handler()] : []),
      gate.handler(),
    ],
    concurrency: cfg.workers,
    pollMs: cfg.pollMs,
    renewMs: Math.max(100, Math.floor(cfg.leaseMs / 3)),
    log,
  });
  const triggers = new TriggerScheduler({
    db,
    settings,
    runs,
    queue,
    log,
    pollMs: cfg.pollMs,
    trainerDir: cfg.trainerDir ?? BUILTIN_TRAINER_DIR,
    lease: new NamedLease(db, {
      name: "training.triggers",
      holder: worker.id,
      // a look takes far less than this; the holder renews it at every look
      ttlMs: Math.max(cfg.leaseMs, cfg.pollMs * 3),
    }),
    ...(deps.audit ? { audit: deps.audit } : {}),
    ...(deps.onDrift ? { onDrift: deps.onDrift } : {}),
  });

  /**
   * A run that was training when its hub died is failed ("hub restarted"), never resumed: its
   * trainer is gone and re-running a long job unasked could loop on one that crashes the hub.
   * Evaluations and gate decisions are idempotent and short: they go back in the queue. Only
   * jobs whose lease ran out are touched, so a replica starting never takes another's work.
   */
  async function recover(): Promise<{ failedRuns: string[]; requeued: string[] }> {
    const failedRuns: string[] = [];
    const requeued: string[] = [];
    const error = {
      code: "KENSA_ERR_RUN_INTERRUPTED",
      message: "the hub stopped while the run was training (hub restarted); start it again",
    };
    const owner = worker?.id ?? "recovery";
    const evaluations: string[] = [];
    // a worker's job whose lease ran out is queued again (its run never touched this hub's trainer)
    requeued.push(...((await remote?.requeueExpired()) ?? []));
    for (const job of await queue.orphans(owner)) {
      if (job.type === "train") {
        await queue.finish(job.id, { status: "failed", error }, owner);
        await runs.finish(job.refId, { status: "failed", error, finishedAt: isoNow() }).catch(() => undefined);
        await rm(runs.dir(job.refId), { recursive: true, force: true }).catch(() => {});
        failedRuns.push(job.refId);
      } else {
        if (job.type === "evaluate") evaluations.push(job.refId);
        await queue.finish(job.id, { status: "queued" }, owner);
        requeued.push(job.id);
      }
    }
    if (evaluations.length > 0) {
      await db
        .updateTable("evaluations")
        .set({ status: "queued" })
        .where("id", "in", evaluations)
        .where("status", "=", "running")
        .execute();
    }
    if (failedRuns.length || requeued.length) {
      log.warn({ failedRuns, requeued }, "recovered jobs of a stopped hub");
      kick();
    }
    return { failedRuns, requeued };
  }
  let recovery: NodeJS.Timeout | null = null;
  let recovering: Promise<unknown> | null = null;

  return {
    queue,
    worker,
    trainers,
    runs,
    runEvents,
    evaluations,
    gate,
    registry,
    settings,
    triggers,
    remote,
    async builtinTrainer() {
      const python = await resolvePython(cfg.python, deps.env ?? process.env);
      return { available: await importsTorch(python), python };
    },
    recover,
    start() {
      worker?.start();
      triggers.start();
      // a replica that dies leaves its jobs running until their lease runs out: the others take them over
      recovery ??= setInterval(
        () => {
          recovering ??= recover()
            .catch((err: unknown) => log.error({ err }, "recovering the jobs of a stopped hub failed"))
            .finally(() => {
              recovering = null;
            });
        },
        Math.max(cfg.pollMs, Math.floor(cfg.leaseMs / 2)),
      );
      recovery.unref();
    },
    async stop() {
      if (recovery) clearInterval(recovery);
      recovery = null;
      await recovering;
      await triggers.stop();
      await worker?.stop();
    },
  };
}
