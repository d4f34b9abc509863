import {
  isKensaError,
  type ModelLineage,
  type RunParams,
  type RunTrigger,
  type TrainingSettings,
} from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { type DriftAlert, DriftWatch, type OnDrift } from "../drift/drift-service.js";
import { driftWatchedProjects } from "../drift/drift-store.js";
import type { JobQueue } from "../jobs/job-queue.js";
import type { NamedLease } from "../jobs/named-lease.js";
import type { AuditLog } from "../people/audit-log.js";
import { SerialQueue } from "../serial-queue.js";
import { reportedRevision, trainerRevision } from "./code-revision.js";
import { CronSchedule } from "./cron-schedule.js";
import type { RunRequest, RunService } from "./run-service.js";
import { BUILTIN_TRAINER_DIR } from "./trainer-registry.js";
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
  /** the built-in trainer's folder (config `training.trainerDir`); trainers/torch of this checkout by default */
  trainerDir?: string;
  /** told of each drift alert (notify/ connects people's channels here) */
  onDrift?: OnDrift;
  /** ms between two drift reports of one champion; default 60 s */
  driftCheckMs?: number;
}

/** What a trigger starts: why, and the run's recipe when it is not the project's defaults. */
interface Fire {
  trigger: RunTrigger;
  recipe?: RunRequest;
  /** the drift alert the run answers */
  drift?: DriftAlert;
}

/**
 * Starts runs by themselves: after N new reviewed labels (label revisions marked reviewed,
 * and verdicts — a person's decision) since the project's last run, on a cron schedule, and
 * when the built-in trainer's source revision is not the one that trained the champion (then
 * with the champion's recipe, once per revision), and when the champion drifted past the
 * project's threshold (once per champion and window, drift/drift-service.ts). Never while a
 * run of the project is queued or running. A missed cron minute (hub down, or
 * a run busy) is not made up: the next matching minute fires. Of several hub replicas, only
 * the one holding the trigger lease looks; another takes over when it stops renewing it.
 */
export class TriggerScheduler {
  #d: TriggerSchedulerDeps;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #backoff = new Map<string, number>();
  #serial = new SerialQueue();
  #drift: DriftWatch;

  constructor(deps: TriggerSchedulerDeps) {
    this.#d = deps;
    this.#drift = new DriftWatch({
      db: deps.db,
      log: deps.log,
      ...(deps.audit ? { audit: deps.audit } : {}),
      ...(deps.onDrift ? { onDrift: deps.onDrift } : {}),
      ...(deps.driftCheckMs !== undefined ? { checkMs: deps.driftCheckMs } : {}),
    });
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
    let revision: Promise<string | null> | null = null;
    const projects = await this.#d.settings.withTriggers();
    // projects whose only trigger is drift (withTriggers predates it)
    const listed = new Set(projects.map((p) => p.projectId));
    for (const p of await driftWatchedProjects(this.#d.db)) if (!listed.has(p.projectId)) projects.push(p);
    for (const p of projects) {
      const { newLabels, cron, trainerRevision: onRevision, drift } = p.settings.triggers;
      let fire: Fire | null = null;
      if (cron) {
        const from = p.cronCheckedAt ? new Date(p.cronCheckedAt) : now;
        const at = CronSchedule.parse(cron).firstMatch(from, now);
        await this.#d.settings.setCronCheckedAt(p.projectId, now.toISOString());
        if (at) fire = { trigger: { type: "schedule", detail: cron } };
      }
      if (!fire && newLabels !== null) {
        const count = await this.newReviewedLabels(p.projectId);
        if (count >= newLabels)
          fire = { trigger: { type: "labels", detail: `${count} new reviewed labels (threshold ${newLabels})` } };
      }
      if (!fire && onRevision) {
        // hashed once per look, and only when some project asks
        revision ??= trainerRevision(this.#d.trainerDir ?? BUILTIN_TRAINER_DIR);
        fire = await this.codeChange(p.projectId, await revision);
      }
      if (!fire && drift) fire = await this.driftChange(p.projectId, drift, now);
      if (!fire) continue;
      const { trigger } = fire;
      if ((this.#backoff.get(p.projectId) ?? 0) > now.getTime()) continue;
      if (await this.#d.queue.busy(p.projectId, ["train"])) continue;
      try {
        const by = `trigger:${trigger.type}`;
        const run = await this.#d.runs.create(p.projectId, { ...fire.recipe, by }, trigger);
        if (fire.drift) await this.#drift.started(fire.drift, run.id);
        this.#d.log.info({ run: run.id, project: p.projectId, trigger }, "training run triggered");
        await this.#d.audit?.record({
          actor: by,
          actorKind: "system",
          action: "run.create",
          target: { type: "run", id: run.id },
          details: { projectId: p.projectId, trigger: trigger.detail, snapshotId: run.snapshotId },
        });
      } catch (err) {
        // the data is not ready (empty snapshot, no val sample, …): retrying every poll would only spam
        if (isKensaError(err) && err.status < 500) this.#backoff.set(p.projectId, now.getTime() + BACKOFF_MS);
        this.#d.log.warn({ err, project: p.projectId, trigger }, "a training trigger could not start a run");
      }
    }
  }

  /**
   * The fourth trigger: the champion was trained by the built-in trainer at another source
   * revision than `current` (the trainer a run would get now). Fires once per revision — a
   * project that already has a code-triggered run for `current` (whatever became of it: failed,
   * rejected by the gate) is left alone, so a retrain that does not win never loops. Null when
   * the champion was uploaded, trained by a command trainer (its code is not Kensa's to hash),
   * or the trainer folder holds no trainer.
   */
  async codeChange(projectId: string, current: string | null): Promise<Fire | null> {
    if (!current) return null;
    const { modelVersionId } = await this.#d.settings.champion(projectId);
    if (!modelVersionId) return null;
    const row = await this.#d.db
      .selectFrom("model_versions")
      .select(["lineage"])
      .where("id", "=", modelVersionId)
      .executeTakeFirst();
    const lineage = row?.lineage ? (JSON.parse(row.lineage) as ModelLineage) : null;
    if (!lineage?.params || lineage.trainer !== "builtin") return null;
    const trained = reportedRevision(lineage.trainerVersion);
    if (trained && current.startsWith(trained)) return null;
    const short = current.slice(0, 12);
    const detail = `trainer src/${short} (champion ${modelVersionId} trained by ${trained ? `src/${trained.slice(0, 12)}` : `"${lineage.trainerVersion ?? "an unknown revision"}"`})`;
    const earlier = await this.#d.db
      .selectFrom("training_runs")
      .select("id")
      .where("project_id", "=", projectId)
      .where("trigger_type", "=", "code")
      .where("trigger_detail", "like", `trainer src/${short} %`)
      .executeTakeFirst();
    if (earlier) return null;
    const params = lineage.params as unknown as RunParams;
    const recipe: RunRequest = {
      input: { ...params.input, channels: params.input.channels === 1 ? 1 : 3 },
      hyper: params.hyper,
      seed: params.seed,
      trainer: lineage.trainer,
      ...(params.threads ? { threads: params.threads } : {}),
      // the same choices, with the reasons they were made for
      ...(params.budgetSec ? { budgetSec: params.budgetSec } : {}),
      ...(params.recipe ? { recipe: params.recipe } : {}),
    };
    return { trigger: { type: "code", detail }, recipe };
  }

  /**
   * The fifth trigger: the champion's PSI in the field over the threshold. The alert (audit entry,
   * `onDrift`) is raised once per champion and window; the run is started once for it, later if
   * another run is busy now. A retrain whose model the gate rejects leaves the champion in place:
   * the next alert comes no sooner than a window later, so drift that training cannot fix never loops.
   */
  async driftChange(projectId: string, trigger: NonNullable<TrainingSettings["triggers"]["drift"]>, now: Date) {
    const { modelVersionId } = await this.#d.settings.champion(projectId);
    if (!modelVersionId) return null;
    const alert = await this.#drift.pending(projectId, modelVersionId, trigger, now);
    if (!alert) return null;
    const detail = `champion ${modelVersionId}: ${alert.statistic} PSI ${alert.psi.toFixed(3)} over ${alert.windowHours}h (threshold ${alert.threshold})`;
    return { trigger: { type: "drift", detail }, drift: alert } satisfies Fire;
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
