import { compile, EventAcks, topics } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { Outbox } from "../storage/outbox.js";
import type { MqttLink } from "./mqtt-link.js";

const checkAcks = compile(EventAcks);

/**
 * When an event may leave the outbox: on the hub's confirmation that it committed it ("hub"),
 * or, with a hub that does not confirm (its desired state has no `eventAcks`), on the broker's
 * PUBACK ("broker").
 */
export type AckMode = "hub" | "broker";

export interface PublisherOptions {
  deviceId: string;
  /** most events published and not yet acknowledged (by the hub in "hub" mode) */
  window?: number;
  /** ms an event the broker took waits for the hub's word before it is published again */
  hubAckTimeoutMs?: number;
  /** counts events the hub refused for good (deleted, never sent again) */
  onRejected?: (rejected: EventAcks["rejected"]) => void;
  logger: Logger;
}

/**
 * Pumps the outbox oldest-first over QoS 1 with a bounded window while the link is up. A row is
 * deleted only on the hub's confirmation that it is committed (or refused for good); the
 * broker's PUBACK only moves it to waiting for that word. What the hub does not confirm within
 * `hubAckTimeoutMs` is published again, and on a new connection everything unconfirmed is: the
 * hub may then get an event twice, which it stores once and confirms again; what must never
 * happen is that an event leaves the device before the hub holds it.
 */
export class OutboxPublisher {
  readonly #outbox: Outbox;
  readonly #link: MqttLink;
  readonly #topic: string;
  readonly #window: number;
  readonly #hubAckTimeoutMs: number;
  readonly #onRejected: PublisherOptions["onRejected"];
  readonly #log: Logger;
  #mode: AckMode = "hub";
  /** seqs published in the current connection and not yet PUBACKed by the broker */
  readonly #inFlight = new Set<number>();
  /** seqs the broker took in this connection, waiting for the hub's word, with when */
  readonly #awaitingHub = new Map<number, number>();
  /** seqs to publish again before newer rows */
  readonly #retry = new Set<number>();
  /** seqs confirmed, waiting for the next batched delete */
  #confirmed: number[] = [];
  #flush: NodeJS.Immediate | undefined;
  /** highest seq published in this connection */
  #cursor = 0;
  /** bumps on every disconnect so late callbacks of an old connection do not touch the window */
  #generation = 0;
  #running = false;
  #pumping = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #onQueued = () => this.#pump();
  readonly #onConnect = () => this.#pump();
  readonly #onDisconnect = () => this.#reset();
  readonly #onAcks = (payload: Buffer) => this.#hubAcks(payload);

  constructor(outbox: Outbox, link: MqttLink, opts: PublisherOptions) {
    this.#outbox = outbox;
    this.#link = link;
    this.#topic = topics.events(opts.deviceId);
    this.#window = opts.window ?? 128;
    this.#hubAckTimeoutMs = opts.hubAckTimeoutMs ?? 10_000;
    this.#onRejected = opts.onRejected;
    this.#log = opts.logger.child({ component: "publisher" });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#outbox.on("queued", this.#onQueued);
    this.#link.on("connect", this.#onConnect);
    this.#link.on("disconnect", this.#onDisconnect);
    this.#link.on("acks", this.#onAcks);
    this.#timer = setInterval(() => this.#resendOverdue(), Math.max(100, Math.min(1000, this.#hubAckTimeoutMs / 4)));
    this.#timer.unref();
    this.#pump();
  }

  stop(): void {
    this.#running = false;
    this.#outbox.off("queued", this.#onQueued);
    this.#link.off("connect", this.#onConnect);
    this.#link.off("disconnect", this.#onDisconnect);
    this.#link.off("acks", this.#onAcks);
    clearInterval(this.#timer);
    this.#flushConfirmed();
  }

  get mode(): AckMode {
    return this.#mode;
  }

  /**
   * Follows the hub's desired state: `eventAcks: "hub"` means it confirms. Switching to
   * "broker" releases every event the broker has already taken.
   */
  setMode(mode: AckMode): void {
    if (mode === this.#mode) return;
    this.#log.info("event delivery follows the hub", { ackedBy: mode });
    this.#mode = mode;
    if (mode === "broker") {
      for (const seq of this.#awaitingHub.keys()) this.#confirm(seq);
      this.#awaitingHub.clear();
      this.#pump();
    }
  }

  /**
   * Waits at most `timeoutMs` for the outbox to empty while the link is up: a clean stop leaves
   * nothing behind that could have gone. Returns the events still in the outbox.
   */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#link.connected && this.#outbox.depth() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    this.#flushConfirmed();
    return this.#outbox.depth();
  }

  /** events published and not yet released (waiting for the broker or the hub) */
  get inFlight(): number {
    return this.#inFlight.size + this.#awaitingHub.size;
  }

  #reset(): void {
    this.#flushConfirmed();
    this.#generation++;
    this.#inFlight.clear();
    this.#awaitingHub.clear();
    this.#retry.clear();
    this.#cursor = 0;
  }

  #pump(): void {
    // publish callbacks can fire synchronously inside publish(); never re-enter the loop
    if (this.#pumping || !this.#running || !this.#link.connected) return;
    this.#pumping = true;
    try {
      for (const seq of [...this.#retry].sort((a, b) => a - b)) {
        if (this.inFlight >= this.#window) return;
        this.#retry.delete(seq);
        const row = this.#outbox.peek(seq - 1, 1)[0];
        if (row && row.seq === seq) this.#send(row.seq, row.payload);
      }
      while (this.inFlight < this.#window && this.#link.connected) {
        const rows = this.#outbox.peek(this.#cursor, this.#window - this.inFlight);
        if (rows.length === 0) return;
        for (const row of rows) {
          this.#cursor = row.seq;
          this.#send(row.seq, row.payload);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #send(seq: number, payload: string): void {
    const generation = this.#generation;
    this.#inFlight.add(seq);
    this.#link.publish(this.#topic, payload, { qos: 1 }, (err) => {
      // after stop() the database may be closed; an unrecorded ack only means a resend later
      if (!this.#running) return;
      const current = generation === this.#generation;
      if (current) this.#inFlight.delete(seq);
      if (err) {
        this.#log.debug("event publish not acknowledged", { seq, err });
        if (current) this.#retry.add(seq);
      } else if (this.#mode === "broker") {
        // an ack from an old connection is still an ack: MQTT.js resent the packet itself
        this.#confirm(seq);
      } else if (current) {
        this.#awaitingHub.set(seq, Date.now());
      }
      if (current) queueMicrotask(() => this.#pump());
    });
  }

  #hubAcks(payload: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch {
      value = undefined;
    }
    if (!checkAcks.check(value)) {
      this.#log.warn("ignoring an invalid event confirmation", { code: "KENSA_ERR_MQTT_PAYLOAD_INVALID" });
      return;
    }
    // a confirmation may answer an earlier connection's publish: the hub holds the event either way
    for (const seq of value.stored) this.#release(seq);
    for (const r of value.rejected) {
      this.#log.warn("the hub refused an event for good; it is deleted", {
        seq: r.seq,
        code: r.code,
        reason: r.reason,
      });
      this.#release(r.seq);
    }
    if (value.rejected.length > 0) this.#onRejected?.(value.rejected);
    this.#pump();
  }

  #release(seq: number): void {
    this.#awaitingHub.delete(seq);
    this.#inFlight.delete(seq);
    this.#retry.delete(seq);
    this.#confirm(seq);
  }

  /** what the hub has not confirmed in time goes out again (its commit failed, or the hub died) */
  #resendOverdue(): void {
    if (this.#mode !== "hub" || this.#awaitingHub.size === 0) return;
    const due = Date.now() - this.#hubAckTimeoutMs;
    let n = 0;
    for (const [seq, at] of this.#awaitingHub) {
      if (at > due) continue;
      this.#awaitingHub.delete(seq);
      this.#retry.add(seq);
      n++;
    }
    if (n > 0) {
      this.#log.debug("events not confirmed by the hub in time; publishing them again", { events: n });
      this.#pump();
    }
  }

  #confirm(seq: number): void {
    this.#confirmed.push(seq);
    // one transaction (one fsync) per burst of confirmations instead of one per event
    this.#flush ??= setImmediate(() => this.#flushConfirmed());
  }

  #flushConfirmed(): void {
    if (this.#flush) clearImmediate(this.#flush);
    this.#flush = undefined;
    if (this.#confirmed.length === 0) return;
    const seqs = this.#confirmed;
    this.#confirmed = [];
    this.#outbox.remove(seqs);
  }
}
