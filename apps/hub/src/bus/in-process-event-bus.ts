import type { Logger } from "../logger.js";
import type { EventBus, Listener } from "./event-bus.js";

/** An EventBus within one process: listeners run synchronously, in subscription order. */
export class InProcessEventBus<M> implements EventBus<M> {
  #listeners = new Map<keyof M, Set<Listener<never>>>();
  #log: Logger | null;

  constructor(log?: Logger) {
    this.#log = log ?? null;
  }

  publish<K extends keyof M & string>(type: K, payload: M[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<M[K]>)(payload);
      } catch (err) {
        this.#log?.warn({ type, err: (err as Error).message }, "event listener failed");
      }
    }
  }

  subscribe<K extends keyof M & string>(type: K, listener: Listener<M[K]>): () => void {
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
    };
  }

  /** listeners of `type` now (for tests and /stats) */
  listenerCount(type: keyof M): number {
    return this.#listeners.get(type)?.size ?? 0;
  }
}
