import type { EventAcks, HealthProblem, HubStats, Incident } from "@kensa/contracts";
import { compile, Event, parseDeviceTopic } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { wallNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { DeviceService } from "../fleet/device-service.js";
import type { EventIngest, EventToStore } from "../incidents/event-ingest.js";
import { EventLimiter, type EventRefusal, keptPayload, seqOf } from "../limits/event-limits.js";
import type { Logger } from "../logger.js";
import { SerialQueue } from "../serial-queue.js";
import { applyDeviceState, type TelemetrySink } from "./device-state.js";
import { acksByDevice, type Rejection } from "./event-acks.js";
import { type Batch, EventBatcher } from "./event-batcher.js";
import { inTransaction, isConflictError, isPermanentStorageError } from "./storage-errors.js";

/** attempts of a batch the database aborted for a conflict with another writer */
const CONFLICT_RETRIES = 5;

/** ms between two log lines of a storage failure that goes on */
const FAILURE_LOG_INTERVAL_MS = 10_000;

const checkEvent = compile(Event);
const defaultLimiter = new EventLimiter();

/** What ingest counted since the hub started. */
export type IngestCounters = HubStats["ingest"];

/** Where the hub's word on events goes: the device's `acks` topic. */
export interface AckSink {
  publishAcks(deviceId: string, acks: EventAcks): void;
}

type Item = { kind: "event"; deviceId: string; toStore: EventToStore } | { kind: "reject"; rejection: Rejection };

export interface IngestOptions {
  db: Kysely<HubDatabase>;
  devices: DeviceService;
  events: EventIngest;
  log: Logger;
  /** runs after an incident was raised and committed */
  onIncident: (incident: Incident) => void;
  /** most events in one transaction */
  maxBatch?: number;
  /** the byte budgets of events (limits.eventBytes, limits.metaBytes); the config defaults when omitted */
  limits?: EventLimiter;
  /** ms at most a batch waits for more events after a slow commit (see EventBatcher) */
  maxLingerMs?: number;
  /** events queued before the MQTT side waits for room (then sheds: the devices resend) */
  highWater?: number;
  /** ms the MQTT side waits for room before it sheds a message */
  admitWaitMs?: number;
  telemetryHistory?: TelemetrySink;
}

/**
 * Everything devices publish passes through here. Events are validated, queued and committed
 * in batches (group commit: while one batch commits, the next gathers), then confirmed to each
 * device on its `acks` topic; only that confirmation lets a device delete an event. An event
 * the database failed to store is not confirmed (the device sends it again) and turns `/health`
 * degraded until a batch commits; an event refused for good is kept in `rejected_events` and
 * confirmed as rejected. Nothing a device sends can throw out of here.
 */
export class Ingest {
  readonly #counts: Omit<IngestCounters, "queued"> = {
    received: 0,
    stored: 0,
    duplicates: 0,
    invalid: 0,
    unknownDevice: 0,
    rejected: 0,
    storeFailed: 0,
    shed: 0,
  };
  readonly #o: IngestOptions;
  readonly #log: Logger;
  readonly #batcher: EventBatcher<Item>;
  /** presence, reported state and telemetry, in arrival order */
  readonly #state = new SerialQueue();
  #stateQueued = 0;
  #acks: AckSink | null = null;
  #storageProblem: HealthProblem | null = null;
  #lastFailureLog = 0;
  #failuresUnlogged = 0;
  readonly #highWater: number;
  readonly #admitWaitMs: number;

  constructor(opts: IngestOptions) {
    this.#o = opts;
    this.#log = opts.log;
    this.#highWater = opts.highWater ?? 20_000;
    this.#admitWaitMs = opts.admitWaitMs ?? 2_000;
    this.#batcher = new EventBatcher<Item>({
      maxBatch: opts.maxBatch ?? 1_000,
      maxLingerMs: opts.maxLingerMs ?? 20,
      commit: (batch) => this.#commit(batch),
    });
  }

  /** Where confirmations go; null while the hub has no MQTT connection (nothing is confirmed). */
  attach(acks: AckSink | null): void {
    this.#acks = acks;
  }

  /** Why ingest is not doing its job in full, if it is not. */
  problems(): HealthProblem[] {
    return this.#storageProblem ? [this.#storageProblem] : [];
  }

  /** Handles one message; resolves once it is stored (or counted as refused). Never rejects. */
  handle(topic: string, payload: Uint8Array): Promise<void> {
    return this.#accept(topic, payload) ?? Promise.resolve();
  }

  /**
   * For the MQTT reader: takes the message and returns at once while the queue has room, so
   * reading never waits for storage. When it is full it returns a promise that resolves when
   * there is room again or, after `admitWaitMs`, when the message was shed unconfirmed — the
   * reader never stalls long enough for its keepalive to time out.
   */
  offer(topic: string, payload: Uint8Array): Promise<void> | undefined {
    if (this.#pending() < this.#highWater) {
      void this.#accept(topic, payload);
      return undefined;
    }
    return this.#batcher.room(this.#highWater / 2, this.#admitWaitMs).then((ok) => {
      if (ok) void this.#accept(topic, payload);
      else {
        this.#counts.received++;
        this.#counts.shed++;
        this.#log.warn({ topic }, "ingest queue full: message left unconfirmed for its device to send again");
      }
    });
  }

  /** Resolves when everything taken so far is committed or failed. */
  async idle(): Promise<void> {
    await this.#batcher.idle();
    await this.#state.idle();
  }

  /** what ingest counted since the hub started, and what waits now (`queued`) */
  get counters(): IngestCounters {
    return { ...this.#counts, queued: this.#pending() };
  }

  #pending(): number {
    return this.#batcher.size + this.#stateQueued;
  }

  /** the completion promise of the message, or undefined when it was settled synchronously */
  #accept(topic: string, payload: Uint8Array): Promise<void> | undefined {
    const parsed = parseDeviceTopic(topic);
    // the hub's subscription may also see what it publishes itself (desired state, acks)
    if (parsed?.channel === "desired" || parsed?.channel === "acks") return undefined;
    this.#counts.received++;
    if (!parsed) return this.#invalid(topic, "not a device topic");
    // An empty retained message clears a topic; it carries no state.
    if (payload.byteLength === 0) return undefined;
    const { deviceId, channel } = parsed;
    const { text, refusal } = (this.#o.limits ?? defaultLimiter).screen(payload);
    if (channel === "events") return this.#acceptEvent(topic, deviceId, text, refusal);
    if (refusal) return this.#invalid(topic, refusal.reason);
    this.#stateQueued++;
    return this.#state
      .run(async () => {
        const outcome = await applyDeviceState(this.#o.devices, deviceId, channel, text, this.#o.telemetryHistory);
        if (outcome === "unknown-device") {
          this.#counts.unknownDevice++;
          this.#log.warn({ topic }, "mqtt message from an unknown device dropped");
        } else if (outcome !== "applied") this.#invalid(topic, outcome.what, outcome.issues);
      })
      .catch((err: unknown) => {
        this.#log.error({ topic, err: (err as Error).message }, "storing device state failed");
      })
      .finally(() => {
        this.#stateQueued--;
      });
  }

  #acceptEvent(topic: string, deviceId: string, text: string, refusal: EventRefusal | null): Promise<void> | undefined {
    let body: unknown;
    try {
      // a payload over its budget is not parsed: its start names its seq and id
      body = refusal ? refusal.head : JSON.parse(text);
    } catch {
      return this.#invalid(topic, "payload is not JSON");
    }
    const projectId = this.#o.devices.projectOfCached(deviceId);
    if (projectId === undefined) {
      // not cached yet: look it up, then queue (rare: once per device per hub process)
      return this.#o.devices.projectOf(deviceId).then(
        (p) => this.#queueEvent(topic, deviceId, p, body, text, refusal),
        (err: unknown) => {
          this.#counts.storeFailed++;
          this.#storageFailed(err as Error);
        },
      );
    }
    return this.#queueEvent(topic, deviceId, projectId, body, text, refusal);
  }

  #queueEvent(
    topic: string,
    deviceId: string,
    projectId: string | null,
    body: unknown,
    text: string,
    refusal: EventRefusal | null,
  ): Promise<void> | undefined {
    if (!projectId) {
      this.#counts.unknownDevice++;
      this.#log.warn({ topic }, "mqtt message from an unknown device dropped");
      return undefined;
    }
    const reject = (code: string, reason: string, issues?: unknown) => {
      this.#invalid(topic, reason, issues);
      const seq = seqOf(body);
      // without a seq the device cannot be told which event this was; it is only counted
      if (seq === null) return undefined;
      const eventId = typeof (body as { id?: unknown }).id === "string" ? (body as { id: string }).id : null;
      return this.#batcher.add({
        kind: "reject",
        rejection: { deviceId, seq, eventId, code, reason, payload: keptPayload(text) },
      });
    };
    const over = refusal ?? (this.#o.limits ?? defaultLimiter).check(body);
    if (over) return reject(over.code, over.reason);
    if (!checkEvent.check(body)) {
      return reject("KENSA_ERR_MQTT_PAYLOAD_INVALID", "event", checkEvent.issues(body));
    }
    if (body.deviceId !== deviceId) {
      return reject("KENSA_ERR_FORBIDDEN", `event names device "${body.deviceId}" on another device's topic`);
    }
    return this.#batcher.add({ kind: "event", deviceId, toStore: { event: body, projectId } });
  }

  /** One transaction for the batch; on a permanent error, each item alone to find the culprit. */
  async #commit(batch: Batch<Item>): Promise<void> {
    try {
      await this.#storeRetryingConflicts(batch.items);
    } catch (err) {
      if (isPermanentStorageError(err)) {
        if (batch.items.length > 1) {
          for (const item of batch.items) await this.#commitAlone(item);
          return;
        }
        return this.#commitAlone(batch.items[0] as Item, err as Error);
      }
      this.#failed(batch.items, err as Error);
    }
  }

  /**
   * A deadlock or serialization failure (PostgreSQL, replicas writing the same rows) is the
   * database asking to run the transaction again: do so at once rather than leave the events
   * to their devices' resend.
   */
  async #storeRetryingConflicts(items: readonly Item[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store(items);
      } catch (err) {
        if (!isConflictError(err) || attempt >= CONFLICT_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  async #commitAlone(item: Item, knownError?: Error): Promise<void> {
    let error = knownError;
    if (!error) {
      try {
        await this.#store([item]);
        return;
      } catch (err) {
        if (!isPermanentStorageError(err)) return this.#failed([item], err as Error);
        error = err as Error;
      }
    }
    if (item.kind === "reject") return this.#failed([item], error);
    // the database refuses this event for good: keep it as rejected instead
    const { event } = item.toStore;
    this.#log.warn({ deviceId: item.deviceId, seq: event.seq, err: error.message }, "event refused by the database");
    const rejection: Rejection = {
      deviceId: item.deviceId,
      seq: event.seq,
      eventId: event.id,
      code: "KENSA_ERR_EVENT_REJECTED",
      reason: error.message,
      payload: JSON.stringify(event),
    };
    try {
      await this.#store([{ kind: "reject", rejection }]);
    } catch (err) {
      this.#failed([item], err as Error);
    }
  }

  async #store(items: readonly Item[]): Promise<void> {
    const receivedAt = wallNow();
    const events: EventToStore[] = [];
    const rejections: Rejection[] = [];
    for (const it of items) {
      if (it.kind === "event") events.push(it.toStore);
      else rejections.push(it.rejection);
    }
    const out = await inTransaction(this.#o.db, async (trx) => {
      const stored = await this.#o.events.store(trx, events, receivedAt);
      if (rejections.length > 0) {
        await trx
          .insertInto("rejected_events")
          .values(
            rejections.map((r) => ({
              device_id: r.deviceId,
              seq: r.seq,
              event_id: r.eventId,
              code: r.code,
              reason: r.reason,
              payload: r.payload,
              received_at: receivedAt,
            })),
          )
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      const perDevice = new Map<string, { stored: number; maxSeq: number }>();
      for (const e of stored.stored) {
        const d = perDevice.get(e.deviceId) ?? { stored: 0, maxSeq: 0 };
        d.stored++;
        d.maxSeq = Math.max(d.maxSeq, e.seq);
        perDevice.set(e.deviceId, d);
      }
      await this.#o.devices.recordEvents(trx, perDevice, receivedAt);
      return stored;
    });
    if (this.#storageProblem) {
      this.#log.info({ since: this.#storageProblem.since }, "ingest storage recovered");
      this.#storageProblem = null;
      this.#lastFailureLog = 0;
      this.#failuresUnlogged = 0;
    }
    this.#counts.stored += out.stored.length;
    this.#counts.duplicates += out.duplicates.length;
    this.#counts.rejected += rejections.length;
    this.#confirm(out.stored.concat(out.duplicates), rejections);
    for (const incident of out.incidents) {
      this.#log.info(
        { incidentId: incident.id, deviceId: incident.deviceId, label: incident.label, score: incident.score },
        "incident raised",
      );
      this.#o.onIncident(incident);
    }
    if (out.awaitingMedia.length > 0) {
      await this.#o.events.linkLateMedia(out.awaitingMedia).catch((err: unknown) => {
        // the upload side links too; a miss here leaves the frame reachable through its upload
        this.#log.warn({ err: (err as Error).message }, "linking frames to new events failed");
      });
    }
  }

  #confirm(stored: readonly Event[], rejections: readonly Rejection[]): void {
    const sink = this.#acks;
    if (!sink) return;
    for (const [deviceId, acks] of acksByDevice(stored, rejections)) sink.publishAcks(deviceId, acks);
  }

  #failed(items: readonly Item[], err: Error): void {
    this.#counts.storeFailed += items.length;
    this.#storageFailed(err);
  }

  #storageFailed(err: Error): void {
    const message = `the database failed to store events: ${err.message}`;
    if (!this.#storageProblem) {
      this.#storageProblem = { code: "KENSA_ERR_INGEST_STORAGE_FAILED", message, since: wallNow() };
    } else this.#storageProblem.message = message;
    // while it lasts a failure repeats per batch: log the first, then one line per interval
    this.#failuresUnlogged++;
    const now = Date.now();
    if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    this.#lastFailureLog = now;
    this.#log.error(
      {
        err: err.message,
        code: (err as NodeJS.ErrnoException).code,
        errorCode: "KENSA_ERR_INGEST_STORAGE_FAILED",
        failedBatches: this.#failuresUnlogged,
        eventsNotStored: this.#counts.storeFailed,
      },
      "ingest batch failed; its events stay on the devices",
    );
    this.#failuresUnlogged = 0;
  }

  #invalid(topic: string, what: string, issues?: unknown): undefined {
    this.#counts.invalid++;
    this.#log.warn({ topic, issues }, `invalid mqtt payload: ${what}`);
    return undefined;
  }
}
