import type { Logger } from "./logger.js";

/** One named step of the agent's shutdown. */
export interface ShutdownStep {
  /** what the logs call it: an agent that does not stop says which step it waits for */
  name: string;
  run(): unknown;
}

/**
 * Runs the shutdown steps in order. A step slower than `slowMs` logs "still waiting" with its
 * name (every `slowMs`), so a hanging stop says what hangs; a step that fails is logged and the
 * rest still run (the database closes whatever else went wrong). Rejects with the first
 * failure once every step ran.
 */
export async function shutDownInSteps(steps: readonly ShutdownStep[], log: Logger, slowMs = 5000): Promise<void> {
  let failure: unknown;
  for (const { name, run } of steps) {
    const started = Date.now();
    const slow = setInterval(
      () => log.warn("agent shutdown: still waiting", { step: name, waitingMs: Date.now() - started }),
      slowMs,
    );
    try {
      await run();
    } catch (err) {
      log.error("agent shutdown: a step failed; going on", { step: name, err });
      failure ??= err;
    } finally {
      clearInterval(slow);
    }
  }
  if (failure !== undefined) throw failure;
}
