import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { KensaError } from "@kensa/contracts";
import type { Frame, FrameSource, FrameSourceEvents, SourceStatus } from "./frame-source.js";

/** What a paced source's next tick produced. */
export type Tick = { frame: Omit<Frame, "sourceId" | "capturedAt"> } | { end: true } | { retryInMs: number };

/**
 * Shared loop of sources that produce frames on a clock: one tick every 1/fps s on an
 * absolute schedule (no drift), re-anchored when a tick overran so a stall does not cause a
 * burst of catch-up frames.
 */
export abstract class PacedSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  readonly id: string;
  abstract readonly type: string;
  readonly #periodMs: number;
  #status: SourceStatus = "idle";
  #lastError: KensaError | undefined;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(id: string, fps: number) {
    super();
    this.id = id;
    this.#periodMs = 1000 / fps;
  }

  get status(): SourceStatus {
    return this.#status;
  }

  get lastError(): KensaError | undefined {
    return this.#lastError;
  }

  /** Produces the next frame, or says the source ended or must wait. */
  protected abstract tick(): Promise<Tick>;

  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    this.#setStatus("running");
    this.#loop = this.#run(this.#abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#loop = undefined;
    if (this.#status !== "ended") this.#setStatus("stopped");
  }

  #setStatus(status: SourceStatus): void {
    const changed = status !== this.#status;
    this.#status = status;
    if (status !== "error") this.#lastError = undefined;
    if (changed) this.emit("status", status);
  }

  async #run(signal: AbortSignal): Promise<void> {
    let next = performance.now();
    while (!signal.aborted) {
      let tick: Tick;
      const capturedAt = new Date();
      try {
        tick = await this.tick();
      } catch (err) {
        const error =
          err instanceof KensaError
            ? err
            : new KensaError("KENSA_ERR_SOURCE_FAILED", `source ${this.id}: ${(err as Error).message}`);
        this.#lastError = error;
        this.#setStatus("error");
        this.emit("error", error);
        tick = { retryInMs: 1000 };
      }
      if (signal.aborted) return;
      if ("end" in tick) {
        this.#setStatus("ended");
        this.emit("end");
        return;
      }
      if ("frame" in tick) {
        if (this.#status === "error") this.#setStatus("running");
        this.emit("frame", { sourceId: this.id, capturedAt, ...tick.frame });
        next += this.#periodMs;
      } else {
        next = performance.now() + tick.retryInMs;
      }
      const now = performance.now();
      if (next < now - this.#periodMs) next = now;
      await sleep(Math.max(0, next - now), undefined, { signal }).catch(() => undefined);
    }
  }
}
