import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase, NotificationsTable } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { Logger } from "../logger.js";
import type { ProjectService } from "../projects/project-service.js";
import { toNotification } from "./notification-service.js";
import { type Notifier, PermanentDeliveryError } from "./notifier.js";
import type { IncidentLookup } from "./ports.js";

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
 * Sends pending notifications. The database is the queue: rows stay "pending" with their next
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
      const claimed = await this.#claim();
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((row) => this.#attempt(row)));
    }
  }

  /**
   * Takes up to BATCH due notifications. The outer conditions are checked again on each row
   * as it is updated (PostgreSQL re-reads a row another transaction just changed), so a row two
   * dispatchers both picked goes to the one that updated it first.
   */
  #claim(): Promise<Array<Selectable<NotificationsTable>>> {
    const now = isoNow();
    return this.#db
      .updateTable("notifications")
      .set({ next_attempt_at: new Date(Date.now() + this.#opts.leaseMs).toISOString(), claimed_by: this.id })
      .where("id", "in", (eb) =>
        eb
          .selectFrom("notifications")
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
    const next = await this.#db
      .selectFrom("notifications")
      .select((eb) => eb.fn.min("next_attempt_at").as("at"))
      .where("status", "=", "pending")
      .executeTakeFirst()
      .catch(() => undefined);
    if (!this.#running || this.#busy || this.#timer) return;
    // never longer than a lease: another hub's claim may run out (it died), or it planned new work
    const due = next?.at ? Date.parse(String(next.at)) - Date.now() : this.#opts.leaseMs;
    const wait = Math.min(Math.max(0, due), this.#opts.leaseMs);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.kick();
    }, wait);
    this.#timer.unref?.();
  }

  async #attempt(row: Selectable<NotificationsTable>): Promise<void> {
    const attempts = Number(row.attempts) + 1;
    try {
      const notifier = this.#notifiers.get(row.channel);
      if (!notifier) throw new PermanentDeliveryError(`no notifier for channel "${row.channel}"`);
      const incident = await this.#incidents.get(row.incident_id);
      const project = await this.#projects.get(row.project_id);
      await notifier.send({
        notification: toNotification(row),
        incident,
        project,
        incidentUrl: `${this.#urls.http}/incidents/${incident.id}`,
        signal: this.#abort.signal,
      });
      await this.#db
        .updateTable("notifications")
        .set({ status: "sent", attempts, last_error: null, next_attempt_at: null, sent_at: isoNow() })
        .where("id", "=", row.id)
        .where("claimed_by", "=", this.id)
        .execute();
      this.#log.info(
        { notificationId: row.id, channel: row.channel, incidentId: row.incident_id },
        "notification sent",
      );
    } catch (err) {
      if (!this.#running && this.#abort.signal.aborted) {
        // shutting down: due again at once, for another hub or the next start
        await this.#db
          .updateTable("notifications")
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
      await this.#db
        .updateTable("notifications")
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
        { notificationId: row.id, channel: row.channel, attempts, final, err: message },
        final ? "notification failed" : "notification attempt failed; will retry",
      );
    }
  }
}
