import type { Logger } from "./logger.js";

/**
 * Runs the steps of a shutdown in order, each named, so a process that does not stop says what
 * it waits for: a step slower than 5 s logs "still waiting" with its name (and `detail()`), a
 * step that fails is logged and the rest still run; `failure` is the first error.
 */
export class ShutdownSteps {
  #log: Logger;
  #current: string | null = null;
  failure: unknown;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** the step running now, else null */
  get current(): string | null {
    return this.#current;
  }

  async run(name: string, fn: () => Promise<unknown> | unknown, detail?: () => unknown): Promise<void> {
    const started = Date.now();
    this.#current = name;
    const slow = setInterval(() => {
      this.#current = detail ? `${name} ${JSON.stringify(detail())}` : name;
      this.#log.warn({ step: this.#current, waitingMs: Date.now() - started }, "hub shutdown: still waiting");
    }, 5_000);
    try {
      await fn();
    } catch (err) {
      this.#log.error({ err, step: name }, "hub shutdown: a step failed; going on");
      this.failure ??= err;
    } finally {
      clearInterval(slow);
    }
  }

  done(): void {
    this.#current = null;
  }
}
