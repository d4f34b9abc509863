import { EventEmitter } from "node:events";
import { type Event, isKensaError, KensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { Frame } from "../sources/frame-source.js";
import { type ClipCodec, clipExtension, encodeClip, hasLibx264 } from "./clip-encoder.js";
import type { ClipInfo, ClipStore } from "./clip-store.js";
import { FrameRing } from "./frame-ring.js";

export interface ClipSettings {
  /** s of video kept before the incident frame */
  beforeS: number;
  /** s of video recorded after it */
  afterS: number;
  /** bytes of JPEGs buffered per source at most */
  maxBufferBytes: number;
  /** "auto": H.264 MP4 when ffmpeg has libx264, else MJPEG AVI */
  codec: "auto" | ClipCodec;
}

export interface ClipRecorderEvents {
  written: [clip: ClipInfo];
  error: [error: KensaError];
}

interface PendingClip {
  eventId: string;
  sourceId: string;
  /** ms epoch of the last frame the clip wants */
  untilMs: number;
  frames: Frame[];
  timer: NodeJS.Timeout;
}

/**
 * Short clips around incidents from video sources: the last `beforeS` of each video source's
 * JPEGs stay in memory; when an event of that source is a finding, the clip takes those,
 * keeps collecting for `afterS`, and ffmpeg writes it to the clips dir. One clip per source at
 * a time: an incident during a clip is inside it. Clips stay on the device (listed on the
 * status API) until the media quota evicts them.
 */
export class ClipRecorder extends EventEmitter<ClipRecorderEvents> {
  readonly #store: ClipStore;
  readonly #settings: ClipSettings;
  readonly #ffmpegPath: string;
  readonly #log: Logger;
  readonly #rings = new Map<string, FrameRing>();
  readonly #pending = new Map<string, PendingClip>();
  #writes: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(opts: { store: ClipStore; settings: ClipSettings; ffmpegPath: string; logger: Logger }) {
    super();
    this.#store = opts.store;
    this.#settings = opts.settings;
    this.#ffmpegPath = opts.ffmpegPath;
    this.#log = opts.logger.child({ component: "clips" });
  }

  /** A frame of a video source, every one (before sampling): the ring and any clip being recorded take it. */
  observe(frame: Frame): void {
    if (this.#stopped) return;
    let ring = this.#rings.get(frame.sourceId);
    if (!ring) {
      ring = new FrameRing(this.#settings.beforeS * 1000, this.#settings.maxBufferBytes);
      this.#rings.set(frame.sourceId, ring);
    }
    ring.push(frame);
    const pending = this.#pending.get(frame.sourceId);
    if (pending) {
      pending.frames.push(frame);
      if (frame.capturedAt.getTime() >= pending.untilMs) this.#finish(pending);
    }
  }

  /** An inferred event of a video source: a finding starts a clip around its frame. */
  inferred(event: Event, frame: Frame): void {
    if (this.#stopped || !event.result.finding) return;
    const ring = this.#rings.get(frame.sourceId);
    if (!ring || this.#pending.has(frame.sourceId)) return;
    const at = frame.capturedAt.getTime();
    const pending: PendingClip = {
      eventId: event.id,
      sourceId: frame.sourceId,
      untilMs: at + this.#settings.afterS * 1000,
      frames: ring.since(at - this.#settings.beforeS * 1000),
      // a source that stalls must not hold the clip forever
      timer: setTimeout(() => this.#finish(pending), this.#settings.afterS * 1000 + 3000),
    };
    pending.timer.unref();
    this.#pending.set(frame.sourceId, pending);
    if (pending.frames.at(-1) && (pending.frames.at(-1) as Frame).capturedAt.getTime() >= pending.untilMs) {
      this.#finish(pending);
    }
  }

  /** Writes the clips being recorded with the frames they have, and waits for every write. */
  async stop(): Promise<void> {
    for (const p of [...this.#pending.values()]) this.#finish(p);
    this.#stopped = true;
    await this.#writes;
  }

  /** Resolves when no clip is being written. */
  async idle(): Promise<void> {
    await this.#writes;
  }

  #finish(p: PendingClip): void {
    if (this.#pending.get(p.sourceId) !== p) return;
    clearTimeout(p.timer);
    this.#pending.delete(p.sourceId);
    // one ffmpeg at a time: clips are not worth starving inference of CPU
    this.#writes = this.#writes.then(() => this.#write(p));
  }

  async #write(p: PendingClip): Promise<void> {
    try {
      const frames = p.frames;
      const first = frames[0]?.capturedAt.getTime() ?? 0;
      const last = frames.at(-1)?.capturedAt.getTime() ?? first;
      const durationMs = last - first;
      const fps = durationMs > 0 ? Math.min(60, Math.max(1, ((frames.length - 1) * 1000) / durationMs)) : 1;
      const codec: ClipCodec =
        this.#settings.codec === "auto"
          ? (await hasLibx264(this.#ffmpegPath))
            ? "h264"
            : "mjpeg"
          : this.#settings.codec;
      const file = `${p.eventId}.${clipExtension(codec)}`;
      const item = { eventId: p.eventId, sourceId: p.sourceId, frames: frames.length, durationMs };
      const stored = await this.#store.save(file, item, (path) =>
        encodeClip({ ffmpegPath: this.#ffmpegPath, codec, frames: frames.map((f) => f.image), fps, path }),
      );
      if (stored) this.emit("written", stored);
      this.#log.info("incident clip written", { file, ...item, bytes: stored?.bytes });
    } catch (err) {
      const e = isKensaError(err) ? err : new KensaError("KENSA_ERR_CLIP_FAILED", (err as Error)?.message);
      this.#log.error("incident clip not written", { code: e.code, message: e.message, eventId: p.eventId });
      if (this.listenerCount("error") > 0) this.emit("error", e);
    }
  }
}
