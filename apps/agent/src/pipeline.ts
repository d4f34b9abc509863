import { EventEmitter } from "node:events";
import type { Event } from "@kensa/contracts";
import type { Logger } from "./logger.js";
import type { LoadedBundle } from "./model.js";
import type { Outbox } from "./outbox.js";
import type { Frame } from "./sources/frame-source.js";

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
}

export interface PipelineEvents {
  inferred: [event: Event];
}

export interface PipelineOptions {
  id: string;
  deviceId: string;
  outbox: Outbox;
  logger: Logger;
}

/**
 * Frames in, events out. Real time: at most one frame is in inference; a frame that arrives
 * meanwhile is dropped rather than queued, so latency never grows with backlog. The model is
 * swapped atomically between frames and the old one is closed only after its last inference.
 */
export class Pipeline extends EventEmitter<PipelineEvents> {
  readonly id: string;
  readonly #deviceId: string;
  readonly #outbox: Outbox;
  readonly #log: Logger;
  #loaded: LoadedBundle | null = null;
  #busy: Promise<void> | undefined;
  readonly #stats: PipelineStats = {
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
  }

  get loaded(): LoadedBundle | null {
    return this.#loaded;
  }

  stats(): PipelineStats {
    return { ...this.#stats };
  }

  handle(frame: Frame): void {
    this.#stats.framesTotal++;
    const loaded = this.#loaded;
    if (!loaded) {
      this.#stats.framesSkipped++;
      return;
    }
    if (this.#busy) {
      this.#stats.framesDropped++;
      return;
    }
    const job = this.#process(frame, loaded).finally(() => {
      if (this.#busy === job) this.#busy = undefined;
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
      this.emit("inferred", event);
    } catch (err) {
      this.#stats.framesFailed++;
      this.#log.warn("frame failed", { sourceId: frame.sourceId, meta: frame.meta, err });
    }
  }
}
