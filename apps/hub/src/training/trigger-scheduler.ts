import { isKensaError } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import type { NamedLease } from "../jobs/named-lease.js";
import type { AuditLog } from "../people/audit-log.js";
import { SerialQueue } from "../serial-queue.js";
import { CronSchedule } from "./cron-schedule.js";
import type { RunService } from "./run-service.js";
import type { TrainingSettingsService } from "./training-settings-service.js";

/** ms a project whose trigger could not start a run (e.g. no val sample yet) is left alone */
const BACKOFF_MS = 60_000;

export interface TriggerSchedulerDeps {
  db: Kysely<HubDatabase>;
  settings: TrainingSettingsService;
  runs: RunService;
  queue: JobQueue;
  log: FastifyBaseLogger;
  pollMs: number;
  audit?: AuditLog;
  /** held by the one replica that looks at triggers, so a schedule fires once across replicas */
  lease?: NamedLease;
}

/**
 * Starts runs by themselves: after N new reviewed labels (label revisions marked reviewed,
 * and verdicts — a person's decision) since the project's last run, and on a cron schedule.
 * Never while a run of the project is queued or running. A missed cron minute (hub down, or
 * a run busy) is not made up: the next matching minute fires. Of several hub replicas, only
 * the one holding the trigger lease looks; another takes over when it stops renewing it.
 */
export class TriggerScheduler {
  #d: TriggerSchedulerDeps;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #backoff = new Map<string, number>();
  #serial = new SerialQueue();

  constructor(deps: TriggerSchedulerDeps) {
    this.#d = deps;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#ticking ??= this.tick()
        .catch((err: unknown) => this.#d.log.error({ err }, "training triggers failed"))
        .finally(() => {
          this.#ticking = null;
        });
    }, this.#d.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#ticking;
    await this.#d.lease?.release().catch(() => undefined);
  }

  /**
   * One look at every project with a trigger. Looks never overlap (the timer's and a direct
   * call): two at once could both see a project idle and start two runs.
   */
  tick(now = new Date()): Promise<void> {
    return this.#serial.run(() => this.#tick(now));
  }

  async #tick(now: Date): Promise<void> {
    if (this.#d.lease && !(await this.#d.lease.acquire())) return;
    for (const p of await this.#d.settings.withTriggers()) {
      const { newLabels, cron } = p.settings.triggers;
      let fire: { type: "labels" | "schedule"; detail: string } | null = null;
      if (cron) {
        const from = p.cronCheckedAt ? new Date(p.cronCheckedAt) : now;
        const at = CronSchedule.parse(cron).firstMatch(from, now);
        await this.#d.settings.setCronCheckedAt(p.projectId, now.toISOString());
        if (at) fire = { type: "schedule", detail: cron };
      }
      if (!fire && newLabels !== null) {
        const count = await this.newReviewedLabels(p.projectId);
        if (count >= newLabels)
          fire = { type: "labels", detail: `${count} new reviewed labels (threshold ${newLabels})` };
      }
      if (!fire) continue;
      if ((this.#backoff.get(p.projectId) ?? 0) > now.getTime()) continue;
      if (await this.#d.queue.busy(p.projectId, ["train"])) continue;
      try {
        const run = await this.#d.runs.create(p.projectId, { by: `trigger:${fire.type}` }, fire);
        this.#d.log.info({ run: run.id, project: p.projectId, trigger: fire }, "training run triggered");
        await this.#d.audit?.record({
          actor: `trigger:${fire.type}`,
          actorKind: "system",
          action: "run.create",
          target: { type: "run", id: run.id },
          details: { projectId: p.projectId, trigger: fire.detail, snapshotId: run.snapshotId },
        });
      } catch (err) {
        // the data is not ready (empty snapshot, no val sample, …): retrying every poll would only spam
        if (isKensaError(err) && err.status < 500) this.#backoff.set(p.projectId, now.getTime() + BACKOFF_MS);
        this.#d.log.warn({ err, project: p.projectId, trigger: fire }, "a training trigger could not start a run");
      }
    }
  }

  /** samples of the project given a reviewed label or a verdict since its last run was created */
  async newReviewedLabels(projectId: string): Promise<number> {
    const since = (await this.#d.runs.lastCreatedAt(projectId)) ?? "";
    const row = await this.#d.db
      .selectFrom("label_revisions")
      .innerJoin("samples", "samples.id", "label_revisions.sample_id")
      .select((eb) => eb.fn.count<number>("label_revisions.sample_id").distinct().as("n"))
      .where("samples.project_id", "=", projectId)
      .where("label_revisions.created_at", ">", since)
      .where((eb) =>
        eb.or([eb("label_revisions.status", "=", "reviewed"), eb("label_revisions.source", "=", "verdict")]),
      )
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
