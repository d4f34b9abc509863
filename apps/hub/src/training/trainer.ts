import type { TrainerProgress } from "@kensa/contracts";

/** How a trainer process ended: an exit code, or the signal that killed it. */
export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TrainerListener {
  /** a stdout line that parsed as a contract progress line */
  line(line: TrainerProgress): void;
  /** every line of stdout and stderr as text, for the run's log */
  text(stream: "stdout" | "stderr", line: string): void;
}

export interface TrainerProcess {
  readonly exited: Promise<TrainerExit>;
  /** SIGTERM now (the contract's cancel), SIGKILL if it has not exited after the grace period */
  terminate(): void;
}

/**
 * The trainer port: anything that runs the trainer contract (packages/contracts/src/trainer.ts)
 * on a job spec file. Adapters: a local process (built-in PyTorch or any configured command).
 */
export interface Trainer {
  /** the name runs record and choose it by */
  readonly name: string;
  /** throws KENSA_ERR_TRAINER_START_FAILED when the program cannot be started at all */
  start(jobPath: string, listener: TrainerListener): Promise<TrainerProcess>;
}
