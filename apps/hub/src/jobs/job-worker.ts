import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import type { JobType } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { ClaimedJob, JobEnd, JobQueue } from "./job-queue.js";

/** Why a running job's signal was aborted. */
export type AbortReason = "cancel" | "shutdown";

/** Runs the jobs of one `type`. Throwing fails the job with the error's code and message. */
export interface JobHandler {
  readonly type: JobType;
  /**
   * `signal` aborts with reason "cancel" (a person cancelled) or "shutdown" (the hub stops);
   * the handler stops promptly and says how the job ended.
   */
  run(job: ClaimedJob, signal: AbortSignal): Promise<JobEnd>;
}

export type JobWorkerEvents = {
  started: [job: ClaimedJob];
  finished: [job: ClaimedJob, end: JobEnd];
};

export interface JobWorkerOptions {
  queue: JobQueue;
  handlers: readonly JobHandler[];
  /** jobs at once; 0 runs none (another hub's workers will) */
  concurrency: number;
  /** ms between looks at the queue when nobody kicks */
  pollMs: number;
  /** ms between renewals of the leases on running jobs (well under the queue's lease) */
  renewMs: number;
  log: FastifyBaseLogger;
}

/**
 * Claims jobs from the queue and runs them with their handler (a registry keyed by job type),
 * at most `concurrency` at once. Polls, and `kick()` wakes it at once when a job was added.
 */
export class JobWorker extends EventEmitter<JobWorkerEvents> {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  #o: JobWorkerOptions;
  #handlers: Map<JobType, JobHandler>;
  #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #timer: NodeJS.Timeout | null = null;
  #renewal: NodeJS.Timeout | null = null;
  #filling: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(o: JobWorkerOptions) {
    super();
    this.#o = o;
    this.#handlers = new Map(o.handlers.map((h) => [h.type, h]));
  }

  start(): void {
    if (this.#o.concurrency === 0 || this.#timer) return;
    this.#timer = setInterval(() => this.kick(), this.#o.pollMs);
    this.#timer.unref();
    this.#renewal = setInterval(() => void this.#renew(), this.#o.renewMs);
    this.#renewal.unref();
    this.kick();
  }

  /** looks at the queue now */
  kick(): void {
    if (this.#stopped || this.#o.concurrency === 0 || !this.#timer) return;
    if (this.#filling) {
      this.#again = true;
      return;
    }
    this.#filling = this.#fill()
      .catch((err: unknown) => this.#o.log.error({ err }, "job worker: claiming a job failed"))
      .finally(() => {
        this.#filling = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** aborts a job this worker runs; false when it runs none of that id */
  abort(jobId: string, reason: AbortReason): boolean {
    const r = this.#running.get(jobId);
    if (!r) return false;
    r.controller.abort(reason);
    return true;
  }

  /** resolves when no job runs */
  async idle(): Promise<void> {
    while (this.#filling || this.#running.size > 0) {
      await this.#filling;
      await Promise.all([...this.#running.values()].map((r) => r.done));
    }
  }

  /** stops claiming, aborts running jobs with reason "shutdown" and waits for them */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#filling;
    for (const r of this.#running.values()) r.controller.abort("shutdown");
    // leases are renewed until the last job has ended, or another hub would take it over meanwhile
    await this.idle();
    if (this.#renewal) clearInterval(this.#renewal);
    this.#renewal = null;
  }

  /**
   * Keeps this worker's claims. A job whose lease was lost (this hub could not reach the
   * database for longer than the lease, and another took the job over) is stopped here.
   */
  async #renew(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (ids.length === 0) return;
    try {
      for (const id of await this.#o.queue.renew(this.id, ids)) {
        this.#o.log.error({ job: id }, "job worker: the job's lease was lost to another hub; stopping it here");
        this.#running.get(id)?.controller.abort("shutdown");
      }
    } catch (err) {
      this.#o.log.warn({ err }, "job worker: renewing job leases failed");
    }
  }

  async #fill(): Promise<void> {
    const types = [...this.#handlers.keys()];
    while (!this.#stopped && this.#running.size < this.#o.concurrency) {
      const job = await this.#o.queue.claim(this.id, types);
      if (!job) return;
      this.#launch(job);
    }
  }

  #launch(job: ClaimedJob): void {
    const controller = new AbortController();
    const handler = this.#handlers.get(job.type)!;
    this.emit("started", job);
    const done = (async () => {
      let end: JobEnd;
      try {
        end = await handler.run(job, controller.signal);
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        end = {
          status: "failed",
          error: {
            code: typeof e.code === "string" && e.code.startsWith("KENSA_ERR_") ? e.code : "KENSA_ERR_INTERNAL",
            message: typeof e.message === "string" ? e.message : String(err),
          },
        };
        if (end.error.code === "KENSA_ERR_INTERNAL") this.#o.log.error({ err, job: job.id }, "job failed");
      }
      try {
        if (!(await this.#o.queue.finish(job.id, end, this.id))) {
          this.#o.log.warn({ job: job.id, end: end.status }, "job worker: the job was taken over by another hub");
        }
      } catch (err) {
        this.#o.log.error({ err, job: job.id }, "job worker: recording the end of a job failed");
      }
      this.emit("finished", job, end);
    })().finally(() => {
      this.#running.delete(job.id);
      this.kick();
    });
    this.#running.set(job.id, { controller, done });
  }
}
