import type { CaptureRow } from "../capture/capture-queue.js";
import type { ClipUploadRow } from "../clips/clip-store.js";
import type { Logger } from "../logger.js";
import type { MediaRow } from "../storage/media-queue.js";
import type { UploadQueue } from "../storage/upload-queue.js";
import { HttpUploader } from "./http-uploader.js";
import type { HubCalls } from "./hub-calls.js";

export interface HubUploadsOptions {
  media: UploadQueue<MediaRow>;
  captures: UploadQueue<CaptureRow>;
  /** absent when clips stay on the device (`media.clips.upload: false`) */
  clips?: UploadQueue<ClipUploadRow> | undefined;
  /** the hub's routes, called as this device */
  hub: HubCalls;
  /** parallel incident frame uploads */
  mediaConcurrency: number;
  logger: Logger;
}

/**
 * The agent's three upload streams to the hub, each draining its spool: incident frames and
 * clips once their event reached the broker, captures whenever the hub answers.
 */
export class HubUploads {
  readonly #media: HttpUploader<MediaRow>;
  readonly #captures: HttpUploader<CaptureRow>;
  readonly #clips: HttpUploader<ClipUploadRow> | undefined;

  constructor(o: HubUploadsOptions) {
    const auth = { logger: o.logger };
    this.#media = new HttpUploader(o.media, {
      ...auth,
      name: "media",
      send: (row, upload) => o.hub.eventMedia(row.eventId, upload),
      concurrency: o.mediaConcurrency,
    });
    this.#captures = new HttpUploader(o.captures, {
      ...auth,
      name: "capture",
      send: (row, upload) => o.hub.capture(row.key, row.query, upload),
      concurrency: 1,
    });
    this.#clips =
      o.clips &&
      new HttpUploader(o.clips, {
        ...auth,
        name: "clips",
        send: (row, upload) => o.hub.eventClip(row.eventId, { durationMs: row.durationMs, frames: row.frames }, upload),
        concurrency: 1,
      });
  }

  start(): void {
    for (const u of this.#all()) u.start();
  }

  /** Events left the outbox: their frames and clips may go now. */
  eventsFlushed(): void {
    this.#media.wake();
    this.#clips?.wake();
  }

  captureQueued(): void {
    this.#captures.wake();
  }

  clipWritten(): void {
    this.#clips?.wake();
  }

  /** The broker is back, so the hub most likely is too: do not sit out the upload backoff. */
  retryNow(): void {
    for (const u of this.#all()) u.retryNow();
  }

  /** Aborts uploads in flight; their rows stay for the next start. */
  async stop(): Promise<void> {
    await Promise.all(this.#all().map((u) => u.stop()));
  }

  #all(): Array<HttpUploader<MediaRow> | HttpUploader<CaptureRow> | HttpUploader<ClipUploadRow>> {
    return [this.#media, this.#captures, ...(this.#clips ? [this.#clips] : [])];
  }
}
