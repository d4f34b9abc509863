import type { Telemetry } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { TelemetryConfig } from "../config/telemetry-config.js";
import type { HubDatabase } from "../db/schema.js";
import { type Aggregate, aggregateOf, MINUTE_MS, mergeInto } from "./telemetry-point.js";
import { TelemetryStore, UPSERT_ROWS } from "./telemetry-store.js";

/** ms between two prune batches */
const PRUNE_PAUSE_MS = 10;

export interface TelemetryHistoryOptions {
  db: Kysely<HubDatabase>;
  config: TelemetryConfig;
  log: FastifyBaseLogger;
  /** ms since the epoch that places a message in its minute; Date.now by default */
  now?: () => number;
}

/** What the history did since the hub started (for /metrics and tests). */
export interface TelemetryHistoryCounters {
  /** telemetry messages merged into a point */
  recorded: number;
  /** messages not kept: `maxPending` points were already waiting for a write */
  dropped: number;
  /** flushes that wrote something, and the statements and points they wrote */
  flushes: number;
  statements: number;
  written: number;
  /** flushes that failed (their points wait for the next) */
  failedFlushes: number;
  /** points deleted past the window */
  pruned: number;
}

/**
 * Keeps each device's telemetry as one point per minute. A message is merged in memory into its
 * device's point of the current minute (by the hub's clock: device clocks drift); points are
 * written every `flushSeconds` and when the hub stops, a few multi-row upserts per flush however
 * many messages arrived. A failed write keeps its points to merge into the next one. Points older
 * than `windowDays` are deleted in batches every `pruneMinutes` (on every replica: deleting what
 * another already deleted is harmless).
 */
export class TelemetryHistory {
  readonly store: TelemetryStore;
  readonly config: TelemetryConfig;
  readonly now: () => number;
  readonly counters: TelemetryHistoryCounters = {
    recorded: 0,
    dropped: 0,
    flushes: 0,
    statements: 0,
    written: 0,
    failedFlushes: 0,
    pruned: 0,
  };
  readonly #log: FastifyBaseLogger;
  #pending = new Map<string, Aggregate>();
  #flushing: Promise<void> | null = null;
  #pruning: Promise<number> | null = null;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;
  #lastDropLog = 0;

  constructor(o: TelemetryHistoryOptions) {
    this.store = new TelemetryStore(o.db);
    this.config = o.config;
    this.#log = o.log;
    this.now = o.now ?? Date.now;
  }

  get windowMs(): number {
    return this.config.windowDays * 86_400_000;
  }

  /** Merges one validated message into its device's point of this minute. Never throws. */
  record(deviceId: string, telemetry: Telemetry): void {
    if (!this.config.enabled) return;
    const minute = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    const key = `${deviceId}\n${minute}`;
    const into = this.#pending.get(key);
    const agg = aggregateOf(deviceId, minute, telemetry);
    if (into) mergeInto(into, agg);
    else if (this.#pending.size >= this.config.maxPending) {
      this.counters.dropped++;
      if (this.now() - this.#lastDropLog > 60_000) {
        this.#lastDropLog = this.now();
        this.#log.warn({ pending: this.#pending.size }, "telemetry history: points wait for a write; new ones dropped");
      }
      return;
    } else this.#pending.set(key, agg);
    this.counters.recorded++;
  }

  /** Points merged but not written yet, of one device or all. */
  pending(deviceIds?: ReadonlySet<string>): Aggregate[] {
    const out: Aggregate[] = [];
    for (const a of this.#pending.values()) if (!deviceIds || deviceIds.has(a.device_id)) out.push({ ...a });
    return out;
  }

  /** Writes every pending point; resolves when written (or failed and kept for the next flush). */
  flush(): Promise<void> {
    // one flush at a time; a flush asked during one runs after it (it may have new points)
    const run = (this.#flushing ?? Promise.resolve()).then(() => this.#flush());
    const tracked = run.finally(() => {
      if (this.#flushing === tracked) this.#flushing = null;
    });
    this.#flushing = tracked;
    return tracked;
  }

  async #flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    let done = 0;
    try {
      while (done < batch.length) {
        const rows = batch.slice(done, done + UPSERT_ROWS);
        await this.store.upsert(rows);
        this.counters.statements++;
        done += rows.length;
      }
    } catch (err) {
      this.counters.failedFlushes++;
      // unwritten points go back, merged with what arrived meanwhile; the next flush retries
      for (const a of batch.slice(done)) {
        const key = `${a.device_id}\n${Date.parse(a.minute)}`;
        const newer = this.#pending.get(key);
        this.#pending.set(key, newer ? mergeInto(a, newer) : a);
      }
      this.#log.warn({ err, waiting: this.#pending.size }, "telemetry history: writing points failed; retrying later");
    } finally {
      if (done > 0) {
        this.counters.flushes++;
        this.counters.written += done;
      }
    }
  }

  /**
   * Deletes points older than the window, `pruneBatch` per transaction, until none is left (or
   * the history stops). Resolves with how many went.
   */
  prune(now = this.now()): Promise<number> {
    this.#pruning ??= this.#prune(now).finally(() => {
      this.#pruning = null;
    });
    return this.#pruning;
  }

  async #prune(now: number): Promise<number> {
    const before = new Date(Math.floor((now - this.windowMs) / MINUTE_MS) * MINUTE_MS).toISOString();
    let total = 0;
    for (;;) {
      if (this.#stopped) break;
      const n = await this.store.pruneBatch(before, this.config.pruneBatch);
      total += n;
      this.counters.pruned += n;
      if (n < this.config.pruneBatch) break;
      // a breath between batches: ingest's commits (one writer on SQLite) go in between
      await new Promise((r) => setTimeout(r, PRUNE_PAUSE_MS));
    }
    if (total > 0) this.#log.info({ deleted: total, before }, "telemetry history: points past the window deleted");
    return total;
  }

  /** Starts the flush and prune timers (the first prune runs soon after start). */
  start(): void {
    if (!this.config.enabled || this.#timers.length > 0 || this.#stopped) return;
    const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
      const t = setInterval(() => {
        fn().catch((err: unknown) => this.#log.warn({ err }, `telemetry history: ${what} failed`));
      }, ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.config.flushSeconds * 1000, () => this.flush(), "flush");
    every(this.config.pruneMinutes * 60_000, () => this.prune(), "pruning");
    const first = setTimeout(() => {
      this.prune().catch((err: unknown) => this.#log.warn({ err }, "telemetry history: pruning failed"));
    }, 5_000);
    first.unref();
    this.#timers.push(first);
  }

  /** Stops the timers, lets a prune end, and writes what is pending. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.#pruning?.catch(() => 0);
    await this.flush();
    if (this.#pending.size > 0) {
      this.#log.warn({ lost: this.#pending.size }, "telemetry history: points could not be written before stopping");
    }
  }
}
