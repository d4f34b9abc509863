import { EventEmitter } from "node:events";
import { isKensaError, KensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import { type RestartPolicy, Supervisor, type SupervisorState } from "../supervisor.js";
import type { InferenceModel, InferenceOutput } from "./model.js";

export interface SupervisedModelEvents {
  /** the session's state changed: running, backoff (restarting), failed (over budget), stopped */
  state: [state: SupervisorState, error: KensaError | undefined];
}

/**
 * An inference session under supervision. When ONNX Runtime throws while running a frame
 * (a crashed or poisoned session; a bad image fails in `prepare` and is the frame's problem
 * only), the session is closed and a fresh one is loaded and warmed up after a backoff,
 * within a restart budget (see Supervisor). Meanwhile `ready` is false, so the pipeline skips
 * camera frames and push sources answer 503 rather than queueing for a model that is not there.
 * Inference runs in-process: a native crash takes the agent with it, which the service
 * manager restarts; this covers every failure ONNX Runtime reports as an exception.
 */
export class SupervisedModel extends EventEmitter<SupervisedModelEvents> implements InferenceModel {
  readonly #reload: () => Promise<InferenceModel>;
  readonly #supervisor: Supervisor;
  readonly #log: Logger;
  #first: InferenceModel | undefined;
  #current: InferenceModel | undefined;
  #crash: ((err: Error) => void) | undefined;
  #lastError: KensaError | undefined;

  /** `first` is loaded and warmed up already; `reload` builds the next session after a crash. */
  constructor(first: InferenceModel, reload: () => Promise<InferenceModel>, policy: RestartPolicy, logger: Logger) {
    super();
    this.#first = first;
    this.#reload = reload;
    this.#log = logger.child({ component: "session" });
    this.#supervisor = new Supervisor((ctx) => this.#work(ctx), policy);
    this.#supervisor.on("state", (state) => this.emit("state", state, this.#lastError));
    this.#supervisor.on("restart", ({ error, restarts, delayMs, failed }) =>
      this.#log.error("inference session failed; restarting it", {
        code: failed ? "KENSA_ERR_INFERENCE_RESTART_BUDGET_EXHAUSTED" : "KENSA_ERR_INFERENCE_SESSION_FAILED",
        message: error.message,
        restarts,
        delayMs,
      }),
    );
    this.#supervisor.on("failed", ({ restartsInWindow }) => {
      this.#lastError = new KensaError(
        "KENSA_ERR_INFERENCE_RESTART_BUDGET_EXHAUSTED",
        `the inference session failed ${restartsInWindow} times in its window; last: ${this.#lastError?.message ?? "?"}`,
      );
    });
    this.#supervisor.on("recovered", () => this.#log.info("inference session restarted", { restarts: this.restarts }));
    this.#supervisor.start();
  }

  get ready(): boolean {
    return this.#current !== undefined;
  }

  get state(): SupervisorState {
    return this.#supervisor.state;
  }

  get restarts(): number {
    return this.#supervisor.restarts;
  }

  /** the error of the last crash (kept after recovery, for the report) */
  get lastError(): KensaError | undefined {
    return this.#lastError;
  }

  async #work(ctx: { signal: AbortSignal; healthy(): void }): Promise<void> {
    let model = this.#first;
    this.#first = undefined;
    if (!model) {
      model = await this.#reload();
      try {
        await model.warmup();
      } catch (err) {
        await model.close().catch(() => undefined);
        throw err;
      }
    }
    try {
      if (ctx.signal.aborted) return;
      const crashed = new Promise<void>((resolve, reject) => {
        this.#crash = reject;
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      this.#current = model;
      ctx.healthy();
      await crashed;
    } finally {
      this.#current = undefined;
      this.#crash = undefined;
      await model.close().catch(() => undefined);
    }
  }

  #fail(err: unknown): KensaError {
    const e = err as Error;
    const wrapped = new KensaError(
      "KENSA_ERR_INFERENCE_SESSION_FAILED",
      `inference failed: ${e?.message ?? String(err)}`,
    );
    this.#lastError = wrapped;
    const crash = this.#crash;
    // the session is finished from here on: frames in flight must not reach it
    this.#current = undefined;
    this.#crash = undefined;
    crash?.(wrapped);
    return wrapped;
  }

  #model(): InferenceModel {
    const m = this.#current;
    if (!m) throw new KensaError("KENSA_ERR_INFERENCE_SESSION_FAILED", "the inference session is restarting");
    return m;
  }

  async prepare(image: Uint8Array): Promise<unknown> {
    const m = this.#model();
    // decoding is the frame's business; a bad image must not restart the session
    return m.prepare && m.run ? { by: m, prepared: await m.prepare(image) } : { by: m, image };
  }

  async run(prepared: unknown): Promise<InferenceOutput> {
    const p = prepared as { by: InferenceModel; prepared?: unknown; image?: Uint8Array };
    const m = this.#current;
    if (!m) throw new KensaError("KENSA_ERR_INFERENCE_SESSION_FAILED", "the inference session is restarting");
    try {
      if (p.image) return await m.infer(p.image);
      // a frame prepared by a session that crashed since is run by its successor (same manifest)
      return await (m.run as NonNullable<InferenceModel["run"]>).call(m, p.prepared);
    } catch (err) {
      if (isKensaError(err) && err.code === "KENSA_ERR_MEDIA_INVALID") throw err;
      if (m !== this.#current) throw err;
      throw this.#fail(err);
    }
  }

  async infer(image: Uint8Array): Promise<InferenceOutput> {
    return this.run(await this.prepare(image));
  }

  warmup(): Promise<number> {
    return this.#model().warmup();
  }

  async close(): Promise<void> {
    this.#first = undefined;
    await this.#supervisor.stop();
  }
}
