import sharp from "sharp";
import type { Pipeline } from "../inference/pipeline.js";
import type { Logger } from "../logger.js";
import type { SourceSet } from "../sources/source-set.js";
import { LatestFrames } from "../status/latest-frames.js";
import { basicAuth } from "./basic-auth.js";

/** px: the console shows a preview, so the long side is capped to keep uploads small */
const previewLongSide = 640;

export interface FrameUploaderOptions {
  /** where the preview goes (HubUrls.deviceFrame) */
  url: string;
  deviceId: string;
  secret: string;
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
      const res = await fetch(this.#opts.url, {
        method: "PUT",
        headers: { "content-type": "image/jpeg", authorization: basicAuth(this.#opts.deviceId, this.#opts.secret) },
        body: new Uint8Array(preview),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) this.#opts.logger.debug("frame preview refused", { status: res.status });
    } catch (err) {
      this.#opts.logger.debug("frame preview not sent", { err });
    } finally {
      this.#busy = false;
    }
  }
}
