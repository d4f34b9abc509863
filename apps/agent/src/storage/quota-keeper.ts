import { statfsSync } from "node:fs";
import { lstat, statfs } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import type { AgentDatabase, Counter } from "./agent-db.js";
import { dirSize } from "./dir-size.js";
import type { DurableSpool } from "./durable-spool.js";
import { MediaBudget } from "./media-budget.js";
import type { Outbox } from "./outbox.js";

export interface QuotaLimits {
  /** bytes: frames, clips and captures together (the media ring buffer) */
  mediaQuotaBytes: number;
  /** bytes: everything in the data dir (database, media, bundles) */
  offlineQuotaBytes: number;
  /** bytes: free disk below which the agent deletes its oldest unsent events (the emergency) */
  minFreeBytes: number;
}

export interface QuotaKeeperOptions extends QuotaLimits {
  db: AgentDatabase;
  dataDir: string;
  /** the spools whose files count as media: incident frames, captures, clips (each reserves its room in the quota before a write) */
  // biome-ignore lint/suspicious/noExplicitAny: any spool, whatever its item and row types
  spools: { media: DurableSpool<any, any>; captures: DurableSpool<any, any>; clips: DurableSpool<any, any> };
  /** counted in the data dir's usage, never evicted here (the updater prunes bundles) */
  bundlesDir: string;
  outbox: Outbox;
  eventsDropped: Counter;
  mediaEvicted: Counter;
  logger: Logger;
  /** bytes available on the data dir's filesystem; statfs by default (tests inject a full disk) */
  freeBytes?: () => Promise<number>;
  /** ms between checks while nothing is written (other processes fill disks too) */
  intervalMs?: number;
  /** bytes of the data dir filesystem's allocation unit; from statfs by default */
  blockBytes?: number;
}

/** What one pass of the quota keeper did. */
export interface QuotaPass {
  usage: { mediaBytes: number; dataBytes: number; freeBytes: number };
  evicted: { uploaded: number; captures: number; clips: number; pending: number };
  eventsDropped: number;
}

/**
 * Keeps the data dir inside its quotas so that a device cut off from the hub for hours keeps
 * inspecting: media first (uploaded copies, then captures, then clips, then frames still
 * waiting), events never — unless the disk is nearly full or the outbox alone exceeds the
 * quota, when the oldest unsent events go, counted in a persisted counter that telemetry and
 * the reported state carry, and logged as KENSA_ERR_EVENTS_DROPPED. Never silently.
 */
export class QuotaKeeper {
  readonly #o: QuotaKeeperOptions;
  readonly #log: Logger;
  readonly #freeBytes: () => Promise<number>;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #running: Promise<QuotaPass> | undefined;
  #again = false;
  #last: QuotaPass | undefined;
  /** the media quota, which every spool write reserves room in before it writes */
  readonly budget: MediaBudget;

  constructor(opts: QuotaKeeperOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: "quota" });
    this.budget = new MediaBudget({
      spools: opts.spools,
      quotaBytes: opts.mediaQuotaBytes,
      blockBytes: opts.blockBytes ?? statfsSync(opts.dataDir).bsize,
      // every eviction is counted here, the passes' and those that make room for a write
      onEvict: () => opts.mediaEvicted.add(1),
    });
    opts.spools.media.useBudget(this.budget, "media");
    opts.spools.captures.useBudget(this.budget, "captures");
    opts.spools.clips.useBudget(this.budget, "clips");
    this.#freeBytes =
      opts.freeBytes ??
      (async () => {
        const fs = await statfs(opts.dataDir);
        return fs.bavail * fs.bsize;
      });
  }

  /** the last pass, for the status API */
  get last(): QuotaPass | undefined {
    return this.#last;
  }

  start(): void {
    this.#timer = setInterval(() => this.schedule(), this.#o.intervalMs ?? 10_000);
    this.#timer.unref();
    this.schedule();
  }

  stop(): Promise<unknown> {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    return this.#running ?? Promise.resolve();
  }

  /** Something was written: check soon (coalesced to one pass per 250 ms). */
  schedule(): void {
    if (this.#soon) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.enforce().catch((err: unknown) => this.#log.error("quota pass failed", { err }));
    }, 250);
    this.#soon.unref();
  }

  /** One pass; concurrent calls share it (and one more runs after it if asked meanwhile). */
  enforce(): Promise<QuotaPass> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.schedule();
      }
    });
    return this.#running;
  }

  async #usage(): Promise<{ mediaBytes: number; dataBytes: number; freeBytes: number; reusableDbBytes: number }> {
    const db = this.#o.db;
    // on disk, in whole blocks, with the room held for writes in flight
    const mediaBytes = this.budget.used();
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const pages = db.pragma("page_count", { simple: true }) as number;
    const free = db.pragma("freelist_count", { simple: true }) as number;
    const wal = await lstat(join(this.#o.dataDir, "agent.db-wal")).then(
      (s) => s.size,
      () => 0,
    );
    // pages on the freelist are reused by the next inserts: count them as room, not as use
    const dbLiveBytes = (pages - free) * pageSize + wal;
    const bundles = await dirSize(this.#o.bundlesDir);
    return {
      mediaBytes,
      dataBytes: mediaBytes + dbLiveBytes + bundles,
      freeBytes: await this.#freeBytes(),
      reusableDbBytes: free * pageSize,
    };
  }

  async #pass(): Promise<QuotaPass> {
    const o = this.#o;
    const u = await this.#usage();
    const pass: QuotaPass = {
      usage: { mediaBytes: u.mediaBytes, dataBytes: u.dataBytes, freeBytes: u.freeBytes },
      evicted: { uploaded: 0, captures: 0, clips: 0, pending: 0 },
      eventsDropped: 0,
    };
    let overMedia = u.mediaBytes - o.mediaQuotaBytes;
    let overData = u.dataBytes - o.offlineQuotaBytes;
    let shortFree = o.minFreeBytes - (u.freeBytes + u.reusableDbBytes);
    const need = () => Math.max(overMedia, overData, shortFree);
    if (need() > 0) {
      const { evicted, freed } = this.budget.evict(need());
      pass.evicted = evicted;
      overMedia -= freed;
      overData -= freed;
      shortFree -= freed;
    }
    const evicted = Object.values(pass.evicted).reduce((a, b) => a + b, 0);
    if (evicted > 0) {
      this.#log.warn("disk quota: evicted media", { ...pass.evicted, ...pass.usage });
    }
    // the emergency: nothing evictable is left and the data dir or the disk is still over
    const eventNeed = Math.max(overData, shortFree);
    if (eventNeed > 0) {
      const dropped = this.#dropEvents(eventNeed);
      if (dropped > 0) {
        // deletes land in the WAL first: fold it into the database (whose freed pages the next
        // inserts reuse) and cut it to zero, or the drop would cost disk instead of freeing it
        try {
          o.db.pragma("wal_checkpoint(TRUNCATE)");
        } catch (err) {
          this.#log.warn("WAL checkpoint failed", { err });
        }
        pass.eventsDropped = dropped;
        o.eventsDropped.add(dropped);
        this.#log.error("disk nearly full: deleted the oldest unsent events", {
          code: "KENSA_ERR_EVENTS_DROPPED",
          dropped,
          total: o.eventsDropped.value,
          ...pass.usage,
        });
      }
    }
    this.#last = pass;
    return pass;
  }

  /** Deletes the oldest unsent events until about `bytes` of payload are gone; returns how many. */
  #dropEvents(bytes: number): number {
    const batch = this.#o.db.prepare<[number], { seq: number; n: number }>(
      "SELECT seq, LENGTH(payload) + 64 AS n FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1000",
    );
    const seqs: number[] = [];
    let freed = 0;
    let after = 0;
    for (let rows = batch.all(after); rows.length > 0 && freed < bytes; rows = batch.all(after)) {
      for (const r of rows) {
        if (freed >= bytes) break;
        seqs.push(r.seq);
        freed += r.n;
        after = r.seq;
      }
    }
    return this.#o.outbox.drop(seqs);
  }
}
