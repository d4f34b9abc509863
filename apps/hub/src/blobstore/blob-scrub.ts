import type { BlobStore } from "./blob-store.js";

/** What one scrub pass found. */
export interface ScrubReport {
  /** blobs hashed */
  checked: number;
  /** bytes read */
  bytes: number;
  /** blobs whose content did not match their address (now quarantined) */
  corrupt: string[];
  /** blobs listed but gone by the time they were read (deleted meanwhile) */
  vanished: number;
  /** false when the pass was stopped before the end of the list */
  complete: boolean;
  /** ms */
  elapsedMs: number;
}

export interface BlobScrubOptions {
  /** bytes/s read at most, averaged over the pass */
  bytesPerSecond: number;
  /** called every so often while the pass runs (e.g. to renew a lease); false stops the pass */
  keepGoing?: () => Promise<boolean>;
  /** blobs between two `keepGoing` calls */
  checkEvery?: number;
}

/**
 * Re-hashes every blob of a store at a bounded rate, quarantining those whose content no
 * longer matches their address (`BlobStore.verify`). The rate bounds the disk or network
 * read the scrub adds to a serving hub: after each blob the pass sleeps until its average is
 * back under `bytesPerSecond`.
 */
export class BlobScrub {
  readonly #blobs: BlobStore;
  readonly #o: BlobScrubOptions;
  #stopping = false;
  #wake: (() => void) | null = null;

  constructor(blobs: BlobStore, o: BlobScrubOptions) {
    if (!(o.bytesPerSecond > 0)) throw new Error("bytesPerSecond must be positive");
    this.#blobs = blobs;
    this.#o = o;
  }

  async pass(): Promise<ScrubReport> {
    this.#stopping = false;
    const started = Date.now();
    const report: ScrubReport = { checked: 0, bytes: 0, corrupt: [], vanished: 0, complete: false, elapsedMs: 0 };
    const every = this.#o.checkEvery ?? 100;
    let complete = true;
    let seen = 0;
    for await (const blob of this.#blobs.list()) {
      const leaseLost = ++seen % every === 0 && this.#o.keepGoing !== undefined && !(await this.#o.keepGoing());
      if (this.#stopping || leaseLost) {
        complete = false;
        break;
      }
      const verdict = await this.#blobs.verify(blob.sha256, { via: "scrub" });
      if (verdict === "missing") report.vanished++;
      else {
        report.checked++;
        report.bytes += blob.size;
        if (verdict === "corrupt") report.corrupt.push(blob.sha256);
      }
      const dueMs = (report.bytes / this.#o.bytesPerSecond) * 1000 - (Date.now() - started);
      if (dueMs > 0) await this.#sleep(dueMs);
    }
    report.complete = complete;
    report.elapsedMs = Date.now() - started;
    return report;
  }

  /** ends a running pass after the blob it is on */
  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }
}
