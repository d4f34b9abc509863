import { KensaError } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { Registry } from "prom-client";
import { BlobScrub, type ScrubReport } from "../blobstore/blob-scrub.js";
import type { BlobStore, CorruptionSource } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { IntegrityConfig } from "../config/integrity-config.js";
import type { HubDatabase } from "../db/schema.js";
import type { EarlyMedia, EarlyMediaLimits } from "../incidents/early-media.js";
import type { NamedLease } from "../jobs/named-lease.js";
import { readCounter } from "../metrics-counter.js";

/** ms after start before the first scrub pass, so a restart does not begin with a full read */
const FIRST_SCRUB_DELAY_MS = 5 * 60_000;

export interface BlobIntegrityDeps {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  earlyMedia: EarlyMedia;
  config: IntegrityConfig;
  log: FastifyBaseLogger;
  /** held by the one replica that scrubs and sweeps */
  lease?: NamedLease;
}

/** The early-media bounds of an `integrity` config section. */
export function earlyMediaLimits(c: IntegrityConfig): EarlyMediaLimits {
  return { perDevice: c.earlyMediaPerDevice, graceMs: c.earlyMediaGraceHours * 3_600_000 };
}

/**
 * Keeps the blob store honest while the hub runs: every blob found corrupt (by a read, a put,
 * the scrub) is logged with KENSA_ERR_BLOB_CORRUPT, counted and recorded in `blob_problems`;
 * a scrub pass re-hashes every blob at `scrubBytesPerSecond`; a sweep removes early media whose
 * event never came. Of several replicas only the lease holder scrubs and sweeps.
 */
export class BlobIntegrityService {
  readonly #d: BlobIntegrityDeps;
  readonly #corrupt = new Map<CorruptionSource, number>();
  #scrub: BlobScrub | null;
  #scrubTimer: NodeJS.Timeout | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = true;
  #unlisten: () => void;
  readonly counters = { scrubPasses: 0, scrubChecked: 0, scrubBytes: 0, earlyMediaSwept: 0 };
  lastScrub: ScrubReport | null = null;

  constructor(d: BlobIntegrityDeps) {
    this.#d = d;
    this.#scrub =
      d.config.scrubBytesPerSecond > 0
        ? new BlobScrub(d.blobs, {
            bytesPerSecond: d.config.scrubBytesPerSecond,
            keepGoing: async () => !this.#stopped && (await this.#holdsLease()),
          })
        : null;
    this.#unlisten = d.blobs.onCorrupt((e) => {
      this.#corrupt.set(e.via, (this.#corrupt.get(e.via) ?? 0) + 1);
      const err = new KensaError("KENSA_ERR_BLOB_CORRUPT", `blob ${e.sha256} did not match its sha256; quarantined`);
      d.log.error({ code: err.code, sha256: e.sha256, size: e.size, via: e.via }, err.message);
      recordProblem(d.db, e.sha256, "corrupt", e.via).catch((dbErr: unknown) =>
        d.log.error({ err: dbErr, sha256: e.sha256 }, "could not record a corrupt blob"),
      );
    });
  }

  /** blobs found corrupt since start, by where */
  corruptFound(): Record<CorruptionSource, number> {
    const out = { read: 0, scrub: 0, put: 0, fsck: 0 };
    for (const [k, v] of this.#corrupt) out[k] = v;
    return out;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (this.#scrub) this.#scheduleScrub(FIRST_SCRUB_DELAY_MS);
    this.#sweepTimer = setInterval(() => {
      this.#exclusive(() => this.sweep());
    }, this.#d.config.sweepIntervalMinutes * 60_000);
    this.#sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#scrubTimer) clearTimeout(this.#scrubTimer);
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#scrubTimer = this.#sweepTimer = null;
    this.#scrub?.stop();
    await this.#running;
    this.#unlisten();
  }

  /** one scrub pass now (null when the scrub is off or another replica holds the lease) */
  async scrub(): Promise<ScrubReport | null> {
    if (!this.#scrub || !(await this.#holdsLease())) return null;
    const report = await this.#scrub.pass();
    this.counters.scrubPasses++;
    this.counters.scrubChecked += report.checked;
    this.counters.scrubBytes += report.bytes;
    this.lastScrub = report;
    this.#d.log.info(
      { checked: report.checked, bytes: report.bytes, corrupt: report.corrupt, complete: report.complete },
      "blob scrub pass done",
    );
    return report;
  }

  /** removes early media whose event never came (see EarlyMedia.sweep) */
  async sweep(now = new Date()): Promise<number> {
    if (!(await this.#holdsLease())) return 0;
    const { removed } = await this.#d.earlyMedia.sweep(now);
    this.counters.earlyMediaSwept += removed.length;
    if (removed.length) this.#d.log.warn({ removed }, "orphaned early media removed: their events never arrived");
    return removed.length;
  }

  /** exposes the counters on the hub's Prometheus registry */
  registerMetrics(registry: Registry): void {
    readCounter({
      name: "kensa_blob_corrupt_total",
      help: "blobs found not matching their sha256 (quarantined), by where they were found",
      labelNames: ["via"],
      registers: [registry],
      read: () => Object.entries(this.corruptFound()).map(([via, n]) => [{ via }, n] as const),
    });
    for (const [name, help, key] of [
      ["kensa_blob_scrub_checked_total", "blobs the scrub re-hashed", "scrubChecked"],
      ["kensa_blob_scrub_bytes_total", "bytes the scrub read", "scrubBytes"],
      ["kensa_early_media_swept_total", "early uploads removed because their event never came", "earlyMediaSwept"],
    ] as const) {
      const counters = this.counters;
      readCounter({ name, help, registers: [registry], read: () => counters[key] });
    }
  }

  #scheduleScrub(delayMs: number): void {
    if (this.#stopped) return;
    this.#scrubTimer = setTimeout(() => {
      this.#exclusive(() => this.scrub()).finally(() =>
        this.#scheduleScrub(this.#d.config.scrubIntervalHours * 3_600_000),
      );
    }, delayMs);
    this.#scrubTimer.unref();
  }

  /** scrub and sweep never overlap; a failure is logged, never thrown at a timer */
  #exclusive(work: () => Promise<unknown>): Promise<unknown> {
    const prev = this.#running ?? Promise.resolve();
    const next = prev
      .then(() => (this.#stopped ? null : work()))
      .catch((err: unknown) => this.#d.log.error({ err }, "blob integrity work failed"));
    this.#running = next;
    return next;
  }

  async #holdsLease(): Promise<boolean> {
    return this.#d.lease ? this.#d.lease.acquire() : true;
  }
}

/** Notes a corrupt (quarantined) or missing blob; the row stays until fsck finds it healthy. */
export async function recordProblem(
  db: Kysely<HubDatabase>,
  sha256: string,
  problem: "corrupt" | "missing",
  via: CorruptionSource,
): Promise<void> {
  await db
    .insertInto("blob_problems")
    .values({ sha256, problem, via, found_at: isoNow() })
    .onConflict((oc) => oc.column("sha256").doUpdateSet({ problem, via }))
    .execute();
}
