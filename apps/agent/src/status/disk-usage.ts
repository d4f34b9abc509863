import { statfs } from "node:fs/promises";
import { dirSize } from "../storage/dir-size.js";

export interface DiskUsageSample {
  /** bytes of files under the data dir */
  dataDirBytes: number;
  /** bytes available to the agent on the data dir's filesystem */
  freeBytes: number;
  /** bytes, size of that filesystem */
  totalBytes: number;
}

/**
 * Disk use of the data dir, recomputed at most every `maxAgeMs`: walking the media folder on
 * every scrape of /metrics would cost more than the inspection it reports on.
 */
export class DiskUsage {
  readonly #dir: string;
  readonly #maxAgeMs: number;
  #cached: { at: number; sample: Promise<DiskUsageSample> } | undefined;

  constructor(dataDir: string, maxAgeMs = 10_000) {
    this.#dir = dataDir;
    this.#maxAgeMs = maxAgeMs;
  }

  sample(): Promise<DiskUsageSample> {
    const now = performance.now();
    if (!this.#cached || now - this.#cached.at > this.#maxAgeMs) {
      this.#cached = { at: now, sample: this.#measure() };
    }
    return this.#cached.sample;
  }

  async #measure(): Promise<DiskUsageSample> {
    const [dataDirBytes, fs] = await Promise.all([dirSize(this.#dir), statfs(this.#dir).catch(() => undefined)]);
    return {
      dataDirBytes,
      freeBytes: fs ? fs.bavail * fs.bsize : 0,
      totalBytes: fs ? fs.blocks * fs.bsize : 0,
    };
  }
}
