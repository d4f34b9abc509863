import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

/** How a supervised worker is restarted. All durations in ms. */
export interface RestartPolicy {
  /** restarts allowed within `windowMs`; one more marks the worker failed */
  maxRestarts: number;
  /** ms, the sliding window the budget counts restarts in */
  windowMs: number;
  /** ms before the first restart; doubles with each consecutive failure */
  backoffMs: number;
  /** ms, the ceiling of the backoff */
  backoffMaxMs: number;
  /** ms between attempts while failed (over budget) */
  failedRetryMs: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  maxRestarts: 10,
  windowMs: 5 * 60_000,
  backoffMs: 500,
  backoffMaxMs: 30_000,
  failedRetryMs: 60_000,
};

export interface WorkerContext {
  /** aborted when the supervisor stops; the worker must then release everything and settle */
  signal: AbortSignal;
  /** The worker calls this once it does useful work (first frame): resets the backoff, clears `failed`. */
  healthy(): void;
}

/**
 * One run of a worker. Resolving means it finished for good (a video file played to its end);
 * rejecting means it crashed and should run again.
 */
export type Worker = (ctx: WorkerContext) => Promise<void>;

export type SupervisorState = "idle" | "starting" | "running" | "backoff" | "failed" | "ended" | "stopped";

export interface SupervisorEvents {
  state: [state: SupervisorState];
  /** the worker crashed; it runs again after `delayMs` (`failed`: over budget, slow retry) */
  restart: [info: { error: Error; restarts: number; delayMs: number; failed: boolean }];
  /** more than `maxRestarts` within `windowMs`; retrying every `failedRetryMs` from now on */
  failed: [info: { error: Error; restartsInWindow: number }];
  /** a restarted worker reported healthy */
  recovered: [];
}

/**
 * Keeps a worker running: restart on crash with exponential backoff (±20 % jitter, so a fleet
 * whose shared NVR rebooted does not reconnect in lockstep), within a restart budget; over
 * budget it is `failed` and retried slowly until it works again, since on an unattended device
 * a camera that comes back after an hour must be picked up without a person. Modelled on
 * Frigate's watchdog, with the budget of an Erlang supervisor.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #run: Worker;
  readonly #policy: RestartPolicy;
  readonly #random: () => number;
  #state: SupervisorState = "idle";
  #restarts = 0;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(run: Worker, policy: RestartPolicy, opts: { random?: () => number } = {}) {
    super();
    this.#run = run;
    this.#policy = policy;
    this.#random = opts.random ?? Math.random;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** restarts since construction */
  get restarts(): number {
    return this.#restarts;
  }

  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    this.#loop = this.#supervise(this.#abort.signal);
  }

  /** Aborts the worker and resolves once it has settled. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#loop = undefined;
    if (this.#state !== "ended") this.#set("stopped");
  }

  #set(state: SupervisorState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#emit("state", state);
  }

  /** A throwing listener is a bug elsewhere; it must not end supervision. */
  #emit<K extends keyof SupervisorEvents>(event: K, ...args: SupervisorEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: SupervisorEvents[K]) => boolean)(event, ...args);
    } catch {
      // swallowed on purpose
    }
  }

  async #supervise(signal: AbortSignal): Promise<void> {
    const p = this.#policy;
    const recent: number[] = [];
    let consecutive = 0;
    let failed = false;
    while (!signal.aborted) {
      this.#set(failed ? "failed" : "starting");
      let wasHealthy = false;
      const healthy = () => {
        if (wasHealthy || signal.aborted) return;
        wasHealthy = true;
        consecutive = 0;
        const recovering = this.#restarts > 0;
        if (failed) {
          failed = false;
          recent.length = 0;
        }
        this.#set("running");
        if (recovering) this.#emit("recovered");
      };
      let error: Error;
      try {
        await this.#run({ signal, healthy });
        if (signal.aborted) break;
        this.#set("ended");
        return;
      } catch (err) {
        if (signal.aborted) break;
        error = err instanceof Error ? err : new Error(String(err));
      }
      this.#restarts++;
      const now = Date.now();
      recent.push(now);
      while (recent.length > 0 && (recent[0] as number) <= now - p.windowMs) recent.shift();
      let delayMs: number;
      const newlyFailed = !failed && recent.length > p.maxRestarts;
      if (failed || newlyFailed) {
        failed = true;
        delayMs = p.failedRetryMs;
      } else {
        const base = Math.min(p.backoffMaxMs, p.backoffMs * 2 ** consecutive);
        delayMs = Math.round(base * (0.8 + 0.4 * this.#random()));
        consecutive++;
      }
      // listeners learn why before they see the state change
      if (newlyFailed) this.#emit("failed", { error, restartsInWindow: recent.length });
      this.#emit("restart", { error, restarts: this.#restarts, delayMs, failed });
      this.#set(failed ? "failed" : "backoff");
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
}
