import { EventEmitter } from "node:events";
import type { Event } from "@kensa/contracts";
import type { Logger } from "./logger.js";
import type { LoadedBundle } from "./model.js";
import type { Outbox } from "./outbox.js";
import type { Frame, FrameOutcome, Intake } from "./sources/frame-source.js";

export interface PipelineStats {
  /** frames that reached the pipeline */
  framesTotal: number;
  /** frames turned into events */
  framesInferred: number;
  /** frames that arrived while the previous one was still being inferred */
  framesDropped: number;
  /** frames that arrived while no model was loaded */
  framesSkipped: number;
  /** frames the model could not process (undecodable image, runtime error) */
  framesFailed: number;
  /** queued frames (push, folder-watch) waiting for inference now */
  queueDepth: number;
}

export interface PipelineEvents {
  inferred: [event: Event, frame: Frame];
}

export interface PipelineOptions {
  id: string;
  deviceId: string;
  outbox: Outbox;
  logger: Logger;
  /** frames marked `queue` that may wait while one is in inference; default 16 */
  queueSize?: number;
}

/**
 * Frames in, events out. Real time: at most one frame is in inference; a camera frame that
 * arrives meanwhile is dropped rather than queued, so latency never grows with backlog. Frames
 * marked `queue` (one per part: push, folder-watch) wait in a small bounded FIFO instead, and
 * their sources hold back while `intake()` is not "ready". The model is swapped atomically
 * between frames and the old one is closed only after its last inference.
 */
export class Pipeline extends EventEmitter<PipelineEvents> {
  readonly id: string;
  readonly #deviceId: string;
  readonly #outbox: Outbox;
  readonly #log: Logger;
  readonly #queueSize: number;
  readonly #queue: Frame[] = [];
  #loaded: LoadedBundle | null = null;
  #busy: Promise<void> | undefined;
  readonly #stats: Omit<PipelineStats, "queueDepth"> = {
    framesTotal: 0,
    framesInferred: 0,
    framesDropped: 0,
    framesSkipped: 0,
    framesFailed: 0,
  };

  constructor(opts: PipelineOptions) {
    super();
    this.id = opts.id;
    this.#deviceId = opts.deviceId;
    this.#outbox = opts.outbox;
    this.#log = opts.logger.child({ component: "pipeline", pipeline: opts.id });
    this.#queueSize = opts.queueSize ?? 16;
  }

  get loaded(): LoadedBundle | null {
    return this.#loaded;
  }

  stats(): PipelineStats {
    return { ...this.#stats, queueDepth: this.#queue.length };
  }

  /** Whether a queued frame would be taken now. */
  intake(): Intake {
    if (!this.#loaded) return "unloaded";
    return this.#busy && this.#queue.length >= this.#queueSize ? "saturated" : "ready";
  }

  handle(frame: Frame): void {
    this.#stats.framesTotal++;
    if (!this.#loaded) {
      this.#skip(frame);
      return;
    }
    if (this.#busy) {
      if (frame.queue && this.#queue.length < this.#queueSize) {
        this.#queue.push(frame);
        return;
      }
      this.#stats.framesDropped++;
      settle(frame, "dropped");
      return;
    }
    this.#start(frame, this.#loaded);
  }

  #skip(frame: Frame): void {
    this.#stats.framesSkipped++;
    settle(frame, "skipped");
  }

  #start(frame: Frame, loaded: LoadedBundle): void {
    const job = this.#process(frame, loaded).finally(() => {
      if (this.#busy !== job) return;
      this.#busy = undefined;
      const next = this.#queue.shift();
      if (!next) return;
      if (this.#loaded) this.#start(next, this.#loaded);
      else for (const f of [next, ...this.#queue.splice(0)]) this.#skip(f);
    });
    this.#busy = job;
  }

  /** Resolves when the frame in flight (if any) has been stored. */
  async idle(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  /** Installs `next` (or nothing) and closes the previous model once it is no longer in use. */
  async swap(next: LoadedBundle | null): Promise<void> {
    const previous = this.#loaded;
    this.#loaded = next;
    if (!previous || previous === next) return;
    await this.idle();
    await previous.model.close().catch((err: unknown) => this.#log.warn("closing the previous model failed", { err }));
  }

  async #process(frame: Frame, loaded: LoadedBundle): Promise<void> {
    try {
      const out = await loaded.model.infer(frame.image);
      const event = await this.#outbox.append(
        {
          deviceId: this.#deviceId,
          pipeline: this.id,
          sourceId: frame.sourceId,
          ts: frame.capturedAt.toISOString(),
          bundle: { ...loaded.bundle },
          frame: { width: out.frame.width, height: out.frame.height, meta: frame.meta },
          result: out.result,
          latencyMs: out.latencyMs,
        },
        out.result.finding ? frame.image : undefined,
      );
      this.#stats.framesInferred++;
      settle(frame, "stored");
      this.emit("inferred", event, frame);
    } catch (err) {
      this.#stats.framesFailed++;
      settle(frame, "failed");
      this.#log.warn("frame failed", { sourceId: frame.sourceId, meta: frame.meta, err });
    }
  }
}

function settle(frame: Frame, outcome: FrameOutcome): void {
  try {
    frame.onSettled?.(outcome);
  } catch {
    // a source's bookkeeping must not fail the pipeline
  }
}
