import { KensaError } from "@kensa/contracts";

/** A spool file, as the quota keeper sees it. */
export interface SpoolFile {
  key: string;
  file: string;
  bytes: number;
}

/** Which rows the quota may evict: done but kept on disk, not done yet, or any. */
export type EvictionScope = "kept" | "pending" | "all";

/** The quota keeper's view of a spool: how much it holds and what can go, oldest first. */
export interface EvictableSpool {
  /** bytes of every file the spool holds, kept ones included */
  bytes(): number;
  /** bytes on disk of every file the spool holds: each file's size rounded up to whole blocks */
  allocatedBytes(blockBytes: number): number;
  oldest(scope: EvictionScope, limit: number): SpoolFile[];
  evict(file: SpoolFile): void;
}

/** The three spools whose files make up the media store. */
export type MediaSpoolName = "media" | "captures" | "clips";

/** A rung of the eviction ladder: what goes, from which spool, counted under which step. */
export interface EvictionRung {
  step: "uploaded" | "captures" | "clips" | "pending";
  spool: MediaSpoolName;
  scope: EvictionScope;
}

/** Evictable files, cheapest loss first: each rung is emptied, oldest first, before the next is touched. */
export const EVICTION_LADDER: readonly EvictionRung[] = [
  // incident frames the hub already has: the local ring buffer's copies
  { step: "uploaded", spool: "media", scope: "kept" },
  // frames for learning: nice to have, and the hub can ask for more tomorrow
  { step: "captures", spool: "captures", scope: "all" },
  // incident clips, uploaded or not
  { step: "clips", spool: "clips", scope: "all" },
  // last resort before events: incident frames not uploaded yet (the event itself survives)
  { step: "pending", spool: "media", scope: "pending" },
];

/** How far down the ladder a new file of each spool may evict: never anything dearer than itself. */
const MAY_EVICT: Record<MediaSpoolName, number> = { captures: 2, clips: 3, media: 4 };

/** Room held for a file being written; released once its row counts it (or the write failed). */
export interface Reservation {
  /** bytes on disk the file was given */
  readonly bytes: number;
  release(): void;
}

export interface MediaBudgetOptions {
  spools: Record<MediaSpoolName, EvictableSpool>;
  /** bytes the media store may take on disk */
  quotaBytes: number;
  /** bytes of the filesystem's allocation unit: a file takes whole blocks */
  blockBytes: number;
  /** told of every eviction the budget makes to fit a write */
  onEvict?: (step: EvictionRung["step"], file: SpoolFile) => void;
}

/**
 * The media quota, kept before a write instead of after it: a file reserves the blocks it will
 * take (its size rounded up to the filesystem's block, which is what `du` counts), and older
 * media is evicted first — cheapest loss first, never anything dearer than the file itself —
 * so the store never holds more than the quota, even for a moment. A file that cannot fit is
 * refused with KENSA_ERR_MEDIA_QUOTA_FULL and nothing is written. Synchronous: two writes
 * reserving at once cannot both count the same free room.
 */
export class MediaBudget {
  readonly #o: MediaBudgetOptions;
  #inFlight = 0;

  constructor(o: MediaBudgetOptions) {
    this.#o = o;
  }

  get quotaBytes(): number {
    return this.#o.quotaBytes;
  }

  /** bytes a file of `size` bytes takes on disk: whole blocks */
  allocated(size: number): number {
    const b = this.#o.blockBytes;
    return Math.ceil(size / b) * b;
  }

  /** bytes on disk of every file the spools hold, plus the room reserved for writes in flight */
  used(): number {
    const { spools, blockBytes } = this.#o;
    return (
      spools.media.allocatedBytes(blockBytes) +
      spools.captures.allocatedBytes(blockBytes) +
      spools.clips.allocatedBytes(blockBytes) +
      this.#inFlight
    );
  }

  /** Makes room for a file of `size` bytes in `spool` and holds it; throws KENSA_ERR_MEDIA_QUOTA_FULL. */
  reserve(spool: MediaSpoolName, size: number): Reservation {
    const bytes = this.allocated(size);
    const over = this.used() + bytes - this.#o.quotaBytes;
    if (over > 0) this.evict(over, MAY_EVICT[spool]);
    if (this.used() + bytes > this.#o.quotaBytes) {
      throw new KensaError(
        "KENSA_ERR_MEDIA_QUOTA_FULL",
        `a ${spool} file of ${size} bytes (${bytes} on disk) does not fit in media.quotaBytes (${this.#o.quotaBytes}); ` +
          `${this.used()} bytes are taken by media that may not make way for it`,
      );
    }
    this.#inFlight += bytes;
    let held = true;
    return {
      bytes,
      release: () => {
        if (held) this.#inFlight -= bytes;
        held = false;
      },
    };
  }

  /**
   * Evicts oldest first down the ladder (its first `rungs` rungs) until `bytes` on disk are
   * freed or nothing is left to evict; returns what went by step and the bytes freed.
   */
  evict(
    bytes: number,
    rungs = EVICTION_LADDER.length,
  ): { evicted: Record<EvictionRung["step"], number>; freed: number } {
    const evicted = { uploaded: 0, captures: 0, clips: 0, pending: 0 };
    let freed = 0;
    for (const rung of EVICTION_LADDER.slice(0, rungs)) {
      const spool = this.#o.spools[rung.spool];
      // deleting while a statement iterates is not allowed: take a batch, delete, take the next
      for (
        let rows = freed < bytes ? spool.oldest(rung.scope, 256) : [];
        rows.length > 0 && freed < bytes;
        rows = spool.oldest(rung.scope, 256)
      )
        for (const row of rows) {
          if (freed >= bytes) break;
          spool.evict(row);
          freed += this.allocated(row.bytes);
          evicted[rung.step]++;
          this.#o.onEvict?.(rung.step, row);
        }
    }
    return { evicted, freed };
  }
}
