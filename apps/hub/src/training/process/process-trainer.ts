import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { compile, KensaError, TrainerProgress } from "@kensa/contracts";
import type { Trainer, TrainerExit, TrainerListener, TrainerProcess } from "../trainer.js";

const checkLine = compile(TrainerProgress);

export interface ProcessTrainerOptions {
  name: string;
  /** the program and its leading arguments; the job spec path is appended */
  command: () => Promise<readonly string[]>;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** ms between SIGTERM and SIGKILL on terminate() */
  killGraceMs: number;
}

/**
 * A trainer that is a local program: `command… /abs/job.json`, progress as JSON lines on
 * stdout, anything on stderr kept for the log. Lines that do not parse as contract lines are
 * logged as text and otherwise ignored, as the contract says.
 */
export class ProcessTrainer implements Trainer {
  readonly name: string;
  #o: ProcessTrainerOptions;

  constructor(o: ProcessTrainerOptions) {
    this.name = o.name;
    this.#o = o;
  }

  async start(jobPath: string, listener: TrainerListener): Promise<TrainerProcess> {
    const [program, ...args] = await this.#o.command();
    if (!program) throw new KensaError("KENSA_ERR_TRAINER_START_FAILED", `trainer ${this.name} has an empty command`);
    const child = spawn(program, [...args, jobPath], {
      cwd: this.#o.cwd,
      env: { ...process.env, ...this.#o.env, PYTHONUNBUFFERED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (err) =>
        reject(
          new KensaError(
            "KENSA_ERR_TRAINER_START_FAILED",
            `trainer ${this.name} could not be started (${program}${this.#o.cwd ? ` in ${this.#o.cwd}` : ""}): ${err.message}`,
          ),
        ),
      );
    });
    await spawned;
    const streams = [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ] as const;
    const closed = streams.map(
      ([name, stream]) =>
        new Promise<void>((resolve) => {
          const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
          rl.on("line", (text) => {
            listener.text(name, text);
            if (name !== "stdout") return;
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              return;
            }
            if (checkLine.check(parsed)) listener.line(parsed);
          });
          rl.once("close", () => resolve());
        }),
    );
    const exited = new Promise<TrainerExit>((resolve) => {
      child.once("exit", (code, signal) => {
        // every line is read before the exit is reported, so an error line is never lost
        void Promise.all(closed).then(() => resolve({ code, signal }));
      });
    });
    let killTimer: NodeJS.Timeout | null = null;
    void exited.then(() => {
      if (killTimer) clearTimeout(killTimer);
    });
    return {
      exited,
      terminate: () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        killTimer ??= setTimeout(() => child.kill("SIGKILL"), this.#o.killGraceMs);
        killTimer.unref();
      },
    };
  }
}
