import sharp from "sharp";
import type { Pipeline } from "../inference/pipeline.js";
import type { Logger } from "../logger.js";
import type { SourceSet } from "../sources/source-set.js";
import { LatestFrames } from "../status/latest-frames.js";
import type { HubCalls } from "./hub-calls.js";

/** px: the console shows a preview, so the long side is capped to keep uploads small */
const previewLongSide = 640;

export interface FrameUploaderOptions {
  /** the hub's routes, called as this device */
  hub: HubCalls;
  deviceId: string;
  /** ms between previews; 0 = never */
  intervalMs: number;
  logger: Logger;
}

/**
 * Sends the newest annotated frame of the device's first active source to the hub every
 * interval, for the console's device page. Best effort: a failed upload is retried at the
 * next tick, never queued (only the newest frame matters).
 */
export class FrameUploader {
  readonly #latest: LatestFrames;
  readonly #sources: SourceSet;
  readonly #opts: FrameUploaderOptions;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(sources: SourceSet, pipelines: readonly Pipeline[], opts: FrameUploaderOptions) {
    this.#sources = sources;
    this.#latest = new LatestFrames(sources, pipelines);
    this.#opts = opts;
  }

  start(): void {
    if (this.#opts.intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.#tick(), this.#opts.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#latest.close();
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const id = this.#sources.entries.find((e) => e.latest)?.source.id;
      const annotated = id ? this.#latest.jpeg(id) : undefined;
      if (!annotated) return;
      const preview = await sharp(await annotated)
        .resize(previewLongSide, previewLongSide, { fit: "inside", withoutEnlargement: true })
        .jpeg({ quality: 75 })
        .toBuffer();
      await this.#opts.hub.deviceFrame(this.#opts.deviceId, {
        body: new Uint8Array(preview),
        contentType: "image/jpeg",
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      this.#opts.logger.debug("frame preview not sent", { err });
    } finally {
      this.#busy = false;
    }
  }
}
