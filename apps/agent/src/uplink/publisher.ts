import { topics } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { Outbox } from "../storage/outbox.js";
import type { MqttLink } from "./mqtt-link.js";

export interface PublisherOptions {
  deviceId: string;
  /** max events published and not yet acknowledged */
  window?: number;
  logger: Logger;
}

/**
 * Pumps the outbox oldest-first over QoS 1 with a bounded in-flight window while the link is
 * up. A row is removed only in the PUBACK callback. On disconnect everything in flight is
 * pending again and will be re-published after reconnect: the broker may then hold an event
 * twice, which the hub dedupes by id; what it must never do is miss one.
 */
export class OutboxPublisher {
  readonly #outbox: Outbox;
  readonly #link: MqttLink;
  readonly #topic: string;
  readonly #window: number;
  readonly #log: Logger;
  /** seqs published in the current connection and not yet acked */
  readonly #inFlight = new Set<number>();
  /** seqs whose publish failed while connected; resent before newer rows */
  readonly #retry = new Set<number>();
  /** acked seqs waiting for the next batched delete */
  #acked: number[] = [];
  #ackFlush: NodeJS.Immediate | undefined;
  /** highest seq published in this connection */
  #cursor = 0;
  /** bumps on every disconnect so late callbacks of an old connection do not touch the window */
  #generation = 0;
  #running = false;
  #pumping = false;
  readonly #onQueued = () => this.#pump();
  readonly #onConnect = () => this.#pump();
  readonly #onDisconnect = () => this.#reset();

  constructor(outbox: Outbox, link: MqttLink, opts: PublisherOptions) {
    this.#outbox = outbox;
    this.#link = link;
    this.#topic = topics.events(opts.deviceId);
    this.#window = opts.window ?? 32;
    this.#log = opts.logger.child({ component: "publisher" });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#outbox.on("queued", this.#onQueued);
    this.#link.on("connect", this.#onConnect);
    this.#link.on("disconnect", this.#onDisconnect);
    this.#pump();
  }

  stop(): void {
    this.#running = false;
    this.#outbox.off("queued", this.#onQueued);
    this.#link.off("connect", this.#onConnect);
    this.#link.off("disconnect", this.#onDisconnect);
    this.#flushAcks();
  }

  /**
   * Waits at most `timeoutMs` for the broker to acknowledge what the outbox holds, while the
   * link is up: a clean stop leaves nothing behind that could have gone. Returns the events
   * still in the outbox.
   */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#link.connected && this.#outbox.depth() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.#outbox.depth();
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  #reset(): void {
    this.#flushAcks();
    this.#generation++;
    this.#inFlight.clear();
    this.#retry.clear();
    this.#cursor = 0;
  }

  #pump(): void {
    // publish callbacks can fire synchronously inside publish(); never re-enter the loop
    if (this.#pumping || !this.#running || !this.#link.connected) return;
    this.#pumping = true;
    try {
      for (const seq of [...this.#retry].sort((a, b) => a - b)) {
        if (this.#inFlight.size >= this.#window) return;
        this.#retry.delete(seq);
        const row = this.#outbox.peek(seq - 1, 1)[0];
        if (row && row.seq === seq) this.#send(row.seq, row.payload);
      }
      while (this.#inFlight.size < this.#window && this.#link.connected) {
        const rows = this.#outbox.peek(this.#cursor, this.#window - this.#inFlight.size);
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
      } else {
        // an ack from an old connection is still an ack: MQTT.js resent the packet itself
        this.#ack(seq);
      }
      if (current) queueMicrotask(() => this.#pump());
    });
  }

  #ack(seq: number): void {
    this.#acked.push(seq);
    // one transaction (one fsync) per burst of PUBACKs instead of one per event
    this.#ackFlush ??= setImmediate(() => this.#flushAcks());
  }

  #flushAcks(): void {
    if (this.#ackFlush) clearImmediate(this.#ackFlush);
    this.#ackFlush = undefined;
    if (this.#acked.length === 0) return;
    const seqs = this.#acked;
    this.#acked = [];
    this.#outbox.remove(seqs);
  }
}
