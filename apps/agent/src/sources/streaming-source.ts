import { EventEmitter } from "node:events";
import { isKensaError, KensaError } from "@kensa/contracts";
import { type RestartPolicy, Supervisor, type SupervisorState } from "../supervisor.js";
import type { Frame, FrameSource, FrameSourceEvents, SourceStatus } from "./frame-source.js";

/** What one connection attempt is given. */
export interface Connection {
  /** aborted on stop or stall: kill the child / destroy the request, then settle */
  signal: AbortSignal;
  /** Delivers a frame (and feeds the stall watchdog). */
  frame(image: Uint8Array, meta?: Frame["meta"]): void;
}

export interface StreamingSourceOptions {
  /** ms without a frame (from the start of an attempt, or since the last frame) that count as a stall */
  stallTimeoutMs: number;
  restart: RestartPolicy;
}

/**
 * Base of sources that hold a connection open (ffmpeg children, HTTP streams): each attempt
 * runs under a Supervisor (backoff, restart budget) with a stall watchdog, and the attempt's
 * failures become the source's status, `lastError` and events.
 */
export abstract class StreamingSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  readonly id: string;
  abstract readonly type: string;
  readonly #stallMs: number;
  readonly #supervisor: Supervisor;
  #status: SourceStatus = "idle";
  #lastError: KensaError | undefined;

  constructor(id: string, opts: StreamingSourceOptions) {
    super();
    this.id = id;
    this.#stallMs = opts.stallTimeoutMs;
    this.#supervisor = new Supervisor((ctx) => this.#attempt(ctx.signal, ctx.healthy), opts.restart);
    this.#supervisor.on("state", (s) => this.#onState(s));
    this.#supervisor.on("restart", ({ error, restarts, delayMs, failed }) => {
      const cause = asSourceError(this.id, error);
      this.#lastError = failed
        ? new KensaError(
            "KENSA_ERR_SOURCE_RESTART_BUDGET_EXHAUSTED",
            `source ${this.id} failed more than ${opts.restart.maxRestarts} times in ${duration(opts.restart.windowMs)}; retrying every ${duration(opts.restart.failedRetryMs)}. Last error: ${cause.message}`,
            { cause: { code: cause.code, message: cause.message } },
          )
        : cause;
      // EventEmitter throws an "error" nobody listens to; a source must not die of that
      if (this.listenerCount("error") > 0) this.emit("error", this.#lastError);
      this.emit("restart", { error: this.#lastError, restarts, delayMs });
    });
    this.#supervisor.on("recovered", () => this.emit("reconnected"));
  }

  get status(): SourceStatus {
    return this.#status;
  }

  get lastError(): KensaError | undefined {
    return this.#lastError;
  }

  /** restarts since the source was created */
  get restarts(): number {
    return this.#supervisor.restarts;
  }

  /**
   * One attempt: connect and deliver frames until the input fails (reject), ends for good
   * (resolve), or `signal` aborts (settle promptly, children exited).
   */
  protected abstract connect(conn: Connection): Promise<void>;

  start(): void {
    this.#supervisor.start();
  }

  async stop(): Promise<void> {
    await this.#supervisor.stop();
  }

  #onState(state: SupervisorState): void {
    let next: SourceStatus;
    switch (state) {
      case "starting":
        // retrying after a failure stays "error" (with its lastError) until frames flow
        next = this.#supervisor.restarts > 0 ? "error" : "starting";
        break;
      case "running":
        next = "running";
        break;
      case "backoff":
        next = "error";
        break;
      case "failed":
        next = "failed";
        break;
      case "ended":
        next = "ended";
        break;
      default:
        next = state === "idle" ? "idle" : "stopped";
    }
    if (next === "running" || next === "stopped" || next === "ended") this.#lastError = undefined;
    if (next === this.#status) return;
    this.#status = next;
    if (next === "ended") this.emit("end");
    this.emit("status", next);
  }

  async #attempt(outer: AbortSignal, healthy: () => void): Promise<void> {
    const abort = new AbortController();
    const onOuter = () => abort.abort(outer.reason);
    outer.addEventListener("abort", onOuter, { once: true });
    let stall: KensaError | undefined;
    let lastAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const silentMs = Math.round(performance.now() - lastAt);
        stall = new KensaError(
          "KENSA_ERR_SOURCE_STALLED",
          `source ${this.id}: no frame for ${silentMs} ms (stall timeout ${this.#stallMs} ms); restarting the input`,
        );
        this.emit("stalled", silentMs);
        abort.abort(stall);
      }, this.#stallMs);
    };
    arm();
    try {
      await this.connect({
        signal: abort.signal,
        frame: (image, meta = {}) => {
          if (abort.signal.aborted) return;
          lastAt = performance.now();
          arm();
          healthy();
          this.emit("frame", { sourceId: this.id, capturedAt: new Date(), image, meta });
        },
      });
    } catch (err) {
      if (stall) throw stall;
      throw err;
    } finally {
      clearTimeout(timer);
      outer.removeEventListener("abort", onOuter);
    }
    if (stall) throw stall;
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** Wraps anything thrown by an input as a source error with a message an operator can act on. */
export function asSourceError(sourceId: string, err: unknown): KensaError {
  if (isKensaError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new KensaError("KENSA_ERR_SOURCE_FAILED", `source ${sourceId}: ${message}`);
}
