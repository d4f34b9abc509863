import { resolve } from "node:path";
import { KensaError } from "@kensa/contracts";
import type { HubConfig } from "../config.js";
import { ProcessTrainer } from "./process/process-trainer.js";
import { resolvePython } from "./python.js";
import type { Trainer } from "./trainer.js";

/** The built-in PyTorch trainer of this checkout. */
export const BUILTIN_TRAINER_DIR = resolve(import.meta.dirname, "../../../../trainers/torch");

/**
 * Trainers by name: "builtin" (trainers/torch through the resolved Python) and every command
 * in `training.trainers`. Runs and projects pick one by name, so the API never takes a command
 * line: what may run on the hub is decided by whoever writes its config.
 */
export class TrainerRegistry {
  #trainers = new Map<string, Trainer>();

  constructor(training: HubConfig["training"], env: NodeJS.ProcessEnv = process.env) {
    const grace = training.killGraceMs;
    this.#trainers.set(
      "builtin",
      new ProcessTrainer({
        name: "builtin",
        command: async () => [await resolvePython(training.python, env), "-m", "kensa_trainer"],
        cwd: training.trainerDir ?? BUILTIN_TRAINER_DIR,
        killGraceMs: grace,
      }),
    );
    for (const [name, t] of Object.entries(training.trainers)) {
      this.#trainers.set(
        name,
        new ProcessTrainer({ name, command: async () => t.command, cwd: t.cwd, killGraceMs: grace }),
      );
    }
  }

  /** throws KENSA_ERR_TRAINER_UNKNOWN */
  get(name: string): Trainer {
    const t = this.#trainers.get(name);
    if (!t) {
      throw new KensaError(
        "KENSA_ERR_TRAINER_UNKNOWN",
        `no trainer "${name}"; configured: ${[...this.#trainers.keys()].join(", ")}`,
      );
    }
    return t;
  }

  names(): string[] {
    return [...this.#trainers.keys()];
  }
}
