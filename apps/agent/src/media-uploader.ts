import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { backoffMs, basicAuth, isRetryableStatus } from "./basic-auth.js";
import type { Logger } from "./logger.js";
import type { MediaQueue, MediaRow } from "./media-queue.js";
import type { Outbox } from "./outbox.js";

export interface MediaUploaderOptions {
  hubUrl: string;
  deviceId: string;
  secret: string;
  concurrency: number;
  logger: Logger;
  /** ms of the first retry delay; doubles per attempt */
  retryBaseMs?: number;
  /** ms cap of the retry delay */
  retryMaxMs?: number;
  /**
   * attempts after which a 404 is final: the hub answers 404 for an event it has not
   * ingested yet, so a few early 404s are expected
   */
  notFoundAttempts?: number;
}

/**
 * PUTs finding frames to `${hubUrl}/api/v1/events/<id>/media` once their event has left the
 * outbox. Retries network errors, 408, 429 and 5xx with backoff; drops other 4xx (they will
 * never succeed) with an error log. File and row go only after a 2xx or a final refusal.
 */
export class MediaUploader {
  readonly #queue: MediaQueue;
  readonly #outbox: Outbox;
  readonly #opts: Required<MediaUploaderOptions>;
  readonly #log: Logger;
  readonly #active = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  readonly #wake = () => this.#fill();

  constructor(queue: MediaQueue, outbox: Outbox, opts: MediaUploaderOptions) {
    this.#queue = queue;
    this.#outbox = outbox;
    this.#opts = { retryBaseMs: 1000, retryMaxMs: 60_000, notFoundAttempts: 6, ...opts };
    this.#log = opts.logger.child({ component: "media" });
  }

  get uploading(): number {
    return this.#active.size;
  }

  start(): void {
    this.#running = true;
    this.#outbox.on("flushed", this.#wake);
    this.#fill();
  }

  /** Stops taking new uploads and aborts the running ones; their rows stay for next start. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#outbox.off("flushed", this.#wake);
    clearTimeout(this.#timer);
    this.#abort.abort();
    await Promise.allSettled(this.#active.values());
  }

  #fill(): void {
    if (!this.#running) return;
    const free = this.#opts.concurrency - this.#active.size;
    if (free > 0) {
      const rows = this.#queue.due(Date.now(), free + this.#active.size).filter((r) => !this.#active.has(r.eventId));
      for (const row of rows.slice(0, free)) {
        const job = this.#upload(row).finally(() => {
          this.#active.delete(row.eventId);
          this.#fill();
        });
        this.#active.set(row.eventId, job);
      }
    }
    this.#schedule();
  }

  /** Wakes at the next deferred retry; new media wakes us through the outbox's `flushed`. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#running || this.#active.size >= this.#opts.concurrency) return;
    const at = this.#queue.nextDueAt();
    if (at === undefined) return;
    this.#timer = setTimeout(() => this.#fill(), Math.max(50, at - Date.now()));
    this.#timer.unref();
  }

  async #upload(row: MediaRow): Promise<void> {
    const url = `${this.#opts.hubUrl.replace(/\/+$/, "")}/api/v1/events/${encodeURIComponent(row.eventId)}/media`;
    let status: number | undefined;
    let failure: unknown;
    try {
      const body = await readFile(join(this.#queue.dir, row.file));
      const res = await fetch(url, {
        method: "PUT",
        headers: {
          "content-type": row.file.endsWith(".png") ? "image/png" : "image/jpeg",
          authorization: basicAuth(this.#opts.deviceId, this.#opts.secret),
        },
        body,
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(30_000)]),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        this.#log.error("media file vanished; dropping its row", { eventId: row.eventId });
        await this.#queue.done(row);
        return;
      }
      failure = err;
    }
    if (!this.#running && status === undefined) return;
    const attempts = row.attempts + 1;
    if (status !== undefined && status >= 200 && status < 300) {
      await this.#queue.done(row);
      this.#log.debug("media uploaded", { eventId: row.eventId, status });
      return;
    }
    const final =
      status !== undefined && !isRetryableStatus(status) && (status !== 404 || attempts >= this.#opts.notFoundAttempts);
    if (final) {
      this.#log.error("hub refused media; dropping it", { eventId: row.eventId, status, attempts });
      await this.#queue.done(row);
      return;
    }
    const delay = backoffMs(attempts, this.#opts.retryBaseMs, this.#opts.retryMaxMs);
    this.#queue.defer(row, attempts, Date.now() + delay);
    this.#log.warn("media upload failed; will retry", {
      eventId: row.eventId,
      status,
      err: failure,
      attempts,
      retryInMs: delay,
    });
  }
}
