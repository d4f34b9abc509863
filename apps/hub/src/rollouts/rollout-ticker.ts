import type { FastifyBaseLogger } from "fastify";
import type { NamedLease } from "../jobs/named-lease.js";
import type { RolloutService } from "./rollout-service.js";

/**
 * Looks at running rollouts every `intervalMs`: the replica holding the `rollouts` lease judges
 * their waves, the others only renew nothing. One look at a time; `stop()` waits for it.
 */
export class RolloutTicker {
  #o: { rollouts: RolloutService; lease: NamedLease; intervalMs: number; log: FastifyBaseLogger };
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(o: { rollouts: RolloutService; lease: NamedLease; intervalMs: number; log: FastifyBaseLogger }) {
    this.#o = o;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** One look now (unless one is under way, which it then waits for). */
  tick(): Promise<void> {
    this.#running ??= this.#look().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #look(): Promise<void> {
    try {
      if (await this.#o.lease.acquire()) await this.#o.rollouts.tick();
    } catch (err) {
      this.#o.log.error({ err }, "rollouts: a look at the running rollouts failed");
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
