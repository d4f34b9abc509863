import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError } from "@kensa/client";
import type { Logger } from "../logger.js";
import { isRetryableStatus } from "../retry.js";
import type { UploadQueue, UploadRow } from "../storage/upload-queue.js";
import type { Upload } from "./hub-calls.js";

export interface HttpUploaderOptions<R extends UploadRow> {
  /** what the logs call it: "media", "capture" */
  name: string;
  /** sends a row's file to the hub (a route of the hub calls); throws ApiError when refused */
  send(row: R, upload: Upload): Promise<void>;
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
 * Sends the files of a durable queue to the hub as the device, oldest first, a few at a
 * time. Retries network errors, 408, 429 and 5xx with backoff; drops other 4xx (they will
 * never succeed) with an error log. A row settles only after a 2xx or a final refusal, so a
 * crash means a repeat upload, which the hub's idempotent ids absorb.
 */
export class HttpUploader<R extends UploadRow> {
  readonly #queue: UploadQueue<R>;
  readonly #opts: Required<HttpUploaderOptions<R>>;
  readonly #log: Logger;
  readonly #active = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #uploaded = 0;

  constructor(queue: UploadQueue<R>, opts: HttpUploaderOptions<R>) {
    this.#queue = queue;
    this.#opts = { retryBaseMs: 1000, retryMaxMs: 60_000, notFoundAttempts: 6, ...opts };
    this.#log = opts.logger.child({ component: opts.name });
  }

  get uploading(): number {
    return this.#active.size;
  }

  /** files accepted by the hub since start */
  get uploaded(): number {
    return this.#uploaded;
  }

  start(): void {
    this.#running = true;
    this.#fill();
  }

  /** New rows may be due (a file was queued, an event was flushed). */
  wake(): void {
    this.#fill();
  }

  /** The hub is probably reachable again: retry deferred rows now instead of after their backoff. */
  retryNow(): void {
    if (!this.#running) return;
    this.#queue.retryNow();
    this.#fill();
  }

  /** Stops taking new uploads and aborts the running ones; their rows stay for next start. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await Promise.allSettled(this.#active.values());
  }

  #fill(): void {
    if (!this.#running) return;
    const free = this.#opts.concurrency - this.#active.size;
    if (free > 0) {
      const rows = this.#queue.due(Date.now(), free + this.#active.size).filter((r) => !this.#active.has(r.key));
      for (const row of rows.slice(0, free)) {
        const job = this.#upload(row).finally(() => {
          this.#active.delete(row.key);
          this.#fill();
        });
        this.#active.set(row.key, job);
      }
    }
    this.#schedule();
  }

  /** Wakes at the next deferred retry; new rows wake us through `wake()`. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#running || this.#active.size >= this.#opts.concurrency) return;
    const at = this.#queue.nextDueAt();
    if (at === undefined) return;
    this.#timer = setTimeout(() => this.#fill(), Math.max(50, at - Date.now()));
    this.#timer.unref();
  }

  async #upload(row: R): Promise<void> {
    let status: number | undefined;
    let failure: unknown;
    try {
      const body = await readFile(join(this.#queue.dir, row.file));
      try {
        await this.#opts.send(row, {
          body,
          contentType: contentTypeOf(row.file),
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(30_000)]),
        });
        status = 200;
      } catch (err) {
        // an answer from the hub has a status; the network failing has none (0)
        if (!(err instanceof ApiError) || err.status === 0) throw err;
        status = err.status;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        // evicted by the disk quota meanwhile, or lost: nothing left to send
        this.#log.warn("file vanished before upload; dropping its row", { key: row.key });
        await this.#queue.done(row, "missing");
        return;
      }
      failure = err;
    }
    if (!this.#running && status === undefined) return;
    const attempts = row.attempts + 1;
    if (status !== undefined && status >= 200 && status < 300) {
      await this.#queue.done(row, "uploaded");
      this.#uploaded++;
      this.#log.debug("uploaded", { key: row.key, status });
      return;
    }
    const final =
      status !== undefined && !isRetryableStatus(status) && (status !== 404 || attempts >= this.#opts.notFoundAttempts);
    if (final) {
      this.#log.error("hub refused the upload; dropping it", { key: row.key, status, attempts });
      await this.#queue.done(row, "refused");
      return;
    }
    const delay = this.#queue.retry(row, { baseMs: this.#opts.retryBaseMs, maxMs: this.#opts.retryMaxMs });
    this.#log.debug("upload failed; will retry", { key: row.key, status, err: failure, attempts, retryInMs: delay });
  }
}

/** The content type of a queued file, by the extension the agent gave it. */
function contentTypeOf(file: string): string {
  const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
  return { png: "image/png", mp4: "video/mp4", avi: "video/x-msvideo" }[ext] ?? "image/jpeg";
}
