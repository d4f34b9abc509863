import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { ModelNotificationsTable } from "../db/schema/model-notifications.js";
import type { RolloutNotificationsTable } from "../db/schema/rollout-notifications.js";
import type { HubDatabase, NotificationsTable } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { Logger } from "../logger.js";
import type { ProjectService } from "../projects/project-service.js";
import { driftNoticeOfRow } from "./drift-alerts.js";
import { toNotification } from "./notification-service.js";
import { type Notifier, PermanentDeliveryError } from "./notifier.js";
import type { IncidentLookup } from "./ports.js";
import { QUEUE_TABLES, type QueueColumns, type QueueTable, queueDb } from "./queue-tables.js";
import { noticeOfRow } from "./rollout-alerts.js";

export interface DispatcherOptions {
  /** attempts per notification before it is marked failed */
  attempts: number;
  /** ms before the first retry, doubled for each further one */
  backoffMs: number;
  /**
   * ms a claimed notification stays with this dispatcher; past it (the hub died mid-send)
   * another hub's dispatcher sends it. Also the longest wait between looks at the queue.
   */
  leaseMs: number;
}

const BATCH = 50;

/**
 * Sends pending notifications: incidents' (`notifications`), rollout alerts
 * (`rollout_notifications`) and drift alerts (`model_notifications`), alike. The database is the queue: rows stay "pending" with their next
 * attempt time until sent or failed, so a restart picks up whatever was in flight. Several hubs
 * on one database each run a dispatcher: a notification is claimed by one conditional UPDATE
 * that moves its next attempt to the end of a lease, so exactly one dispatcher sends it, and
 * another takes it over only if the first did not record the outcome before the lease ran out.
 */
export class NotificationDispatcher {
  /** this dispatcher, as recorded in `claimed_by` */
  readonly id = `ntfd_${randomBytes(6).toString("hex")}`;
  #db: Kysely<HubDatabase>;
  #notifiers: Map<string, Notifier>;
  #projects: ProjectService;
  #incidents: IncidentLookup;
  #urls: HubUrls;
  #log: Logger;
  #opts: DispatcherOptions;
  #running = false;
  #busy: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #abort = new AbortController();

  constructor(deps: {
    db: Kysely<HubDatabase>;
    notifiers: Notifier[];
    projects: ProjectService;
    incidents: IncidentLookup;
    urls: HubUrls;
    log: Logger;
    options: DispatcherOptions;
  }) {
    this.#db = deps.db;
    this.#notifiers = new Map(deps.notifiers.map((n) => [n.type, n]));
    this.#projects = deps.projects;
    this.#incidents = deps.incidents;
    this.#urls = deps.urls;
    this.#log = deps.log;
    this.#opts = deps.options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.kick();
  }

  /** Looks for due work now (called after new notifications are committed). */
  kick(): void {
    if (!this.#running) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#busy = this.#drain()
      .catch((err: Error) => this.#log.error({ err: err.message }, "notification dispatcher failed"))
      .finally(() => {
        this.#busy = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        } else {
          void this.#scheduleNext();
        }
      });
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#abort.abort();
    await this.#busy;
    for (const n of this.#notifiers.values()) await n.close?.();
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (!this.#running) return;
      const incidents = (await this.#claim("notifications")) as Array<Selectable<NotificationsTable>>;
      const rollouts = (await this.#claim("rollout_notifications")) as Array<Selectable<RolloutNotificationsTable>>;
      const models = (await this.#claim("model_notifications")) as Array<Selectable<ModelNotificationsTable>>;
      if (incidents.length === 0 && rollouts.length === 0 && models.length === 0) return;
      await Promise.all([
        ...incidents.map((row) => this.#attempt("notifications", row, () => this.#sendIncident(row))),
        ...rollouts.map((row) => this.#attempt("rollout_notifications", row, () => this.#sendRollout(row))),
        ...models.map((row) => this.#attempt("model_notifications", row, () => this.#sendDrift(row))),
      ]);
    }
  }

  /**
   * Takes up to BATCH due notifications. The outer conditions are checked again on each row
   * as it is updated (PostgreSQL re-reads a row another transaction just changed), so a row two
   * dispatchers both picked goes to the one that updated it first.
   */
  #claim(table: QueueTable): Promise<Array<Selectable<QueueColumns>>> {
    const now = isoNow();
    return queueDb(this.#db)
      .updateTable(table)
      .set({ next_attempt_at: new Date(Date.now() + this.#opts.leaseMs).toISOString(), claimed_by: this.id })
      .where("id", "in", (eb) =>
        eb
          .selectFrom(table)
          .select("id")
          .where("status", "=", "pending")
          .where("next_attempt_at", "<=", now)
          .orderBy("next_attempt_at")
          .limit(BATCH),
      )
      .where("status", "=", "pending")
      .where("next_attempt_at", "<=", now)
      .returningAll()
      .execute();
  }

  async #scheduleNext(): Promise<void> {
    if (!this.#running) return;
    const firsts = await Promise.all(
      QUEUE_TABLES.map((table) =>
        queueDb(this.#db)
          .selectFrom(table)
          .select((eb) => eb.fn.min("next_attempt_at").as("at"))
          .where("status", "=", "pending")
          .executeTakeFirst()
          .then((r) => (r?.at ? Date.parse(String(r.at)) : Number.POSITIVE_INFINITY))
          .catch(() => Number.POSITIVE_INFINITY),
      ),
    );
    if (!this.#running || this.#busy || this.#timer) return;
    // never longer than a lease: another hub's claim may run out (it died), or it planned new work
    const first = Math.min(...firsts);
    const due = Number.isFinite(first) ? first - Date.now() : this.#opts.leaseMs;
    const wait = Math.min(Math.max(0, due), this.#opts.leaseMs);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.kick();
    }, wait);
    this.#timer.unref?.();
  }

  #notifier(channel: string): Notifier {
    const notifier = this.#notifiers.get(channel);
    if (!notifier) throw new PermanentDeliveryError(`no notifier for channel "${channel}"`);
    return notifier;
  }

  /** Sends one incident notification; what to log about it. */
  async #sendIncident(row: Selectable<NotificationsTable>): Promise<Record<string, unknown>> {
    const notifier = this.#notifier(row.channel);
    const incident = await this.#incidents.get(row.incident_id);
    const project = await this.#projects.get(row.project_id);
    await notifier.send({
      notification: toNotification(row),
      incident,
      project,
      incidentUrl: `${this.#urls.http}/incidents/${incident.id}`,
      signal: this.#abort.signal,
    });
    return { incidentId: row.incident_id };
  }

  /** Sends one rollout alert, saying what the rollout was at its transition (the stored notice). */
  async #sendRollout(row: Selectable<RolloutNotificationsTable>): Promise<Record<string, unknown>> {
    const notifier = this.#notifier(row.channel);
    if (!notifier.sendRollout) {
      throw new PermanentDeliveryError(`the ${row.channel} notifier does not carry rollout alerts`);
    }
    const project = await this.#projects.get(row.project_id);
    await notifier.sendRollout({
      notification: {
        id: row.id,
        channel: row.channel as Notifier["type"],
        target: row.target,
        attempts: Number(row.attempts),
      },
      notice: noticeOfRow(row),
      project,
      rolloutUrl: `${this.#urls.http}/rollouts/${row.rollout_id}`,
      signal: this.#abort.signal,
    });
    return { rolloutId: row.rollout_id, kind: row.kind };
  }

  /**
   * Sends one drift alert, saying what was found then (the stored notice). The retraining is read
   * from the alert's `drift_alerts` row now: the trigger starts it just after the alert is handed
   * over, so a message sent a moment later (or retried) can already name the run.
   */
  async #sendDrift(row: Selectable<ModelNotificationsTable>): Promise<Record<string, unknown>> {
    const notifier = this.#notifier(row.channel);
    if (!notifier.sendDrift)
      throw new PermanentDeliveryError(`the ${row.channel} notifier does not carry drift alerts`);
    const notice = driftNoticeOfRow(row);
    const project = await this.#projects.get(row.project_id);
    let runId = notice.runId;
    if (!runId && notice.driftAlertId) {
      const alert = await this.#db
        .selectFrom("drift_alerts")
        .select("run_id")
        .where("id", "=", notice.driftAlertId)
        .executeTakeFirst();
      runId = alert?.run_id ?? null;
    }
    await notifier.sendDrift({
      notification: {
        id: row.id,
        channel: row.channel as Notifier["type"],
        target: row.target,
        attempts: Number(row.attempts),
      },
      notice,
      runId,
      project,
      modelUrl: `${this.#urls.http}/registry/${row.model_version_id}`,
      signal: this.#abort.signal,
    });
    return { modelVersionId: row.model_version_id, kind: row.kind, runId };
  }

  /** One attempt at a claimed row of `table`, its outcome recorded on the row while the claim holds. */
  async #attempt(
    table: QueueTable,
    row: Selectable<QueueColumns>,
    send: () => Promise<Record<string, unknown>>,
  ): Promise<void> {
    const q = queueDb(this.#db);
    const attempts = Number(row.attempts) + 1;
    try {
      const about = await send();
      await q
        .updateTable(table)
        .set({ status: "sent", attempts, last_error: null, next_attempt_at: null, sent_at: isoNow() })
        .where("id", "=", row.id)
        .where("claimed_by", "=", this.id)
        .execute();
      this.#log.info({ notificationId: row.id, channel: row.channel, ...about }, "notification sent");
    } catch (err) {
      if (!this.#running && this.#abort.signal.aborted) {
        // shutting down: due again at once, for another hub or the next start
        await q
          .updateTable(table)
          .set({ next_attempt_at: isoNow() })
          .where("id", "=", row.id)
          .where("status", "=", "pending")
          .where("claimed_by", "=", this.id)
          .execute()
          .catch(() => undefined);
        return;
      }
      const message = (err as Error).message;
      const final = err instanceof PermanentDeliveryError || attempts >= this.#opts.attempts;
      const retryAt = new Date(Date.now() + this.#opts.backoffMs * 2 ** (attempts - 1)).toISOString();
      await q
        .updateTable(table)
        .set({
          status: final ? "failed" : "pending",
          attempts,
          last_error: message,
          next_attempt_at: final ? null : retryAt,
        })
        .where("id", "=", row.id)
        .where("claimed_by", "=", this.id)
        .execute();
      this.#log.warn(
        { notificationId: row.id, table, channel: row.channel, attempts, final, err: message },
        final ? "notification failed" : "notification attempt failed; will retry",
      );
    }
  }
}
