import { EventEmitter } from "node:events";
import { compile, Desired, type ReportedPipeline } from "@kensa/contracts";
import type { ModelLoader } from "../inference/model.js";
import type { Pipeline } from "../inference/pipeline.js";
import type { Logger } from "../logger.js";
import type { StateStore } from "../storage/agent-db.js";
import type { RestartPolicy } from "../supervisor.js";
import type { BundleFetcher } from "./bundle-fetcher.js";
import type { BundleStore } from "./bundle-store.js";
import { Updater, type UpdaterEvents } from "./updater.js";

const checkDesired = compile(Desired);

/** The state key of the rev a pipeline applied last; the agent's own pipeline keeps the key it always had. */
function appliedRevKey(pipelineId: string, primary: string): string {
  return pipelineId === primary ? "desired.appliedRev" : `desired.appliedRev#${pipelineId}`;
}

export interface UpdaterSetOptions {
  /** every pipeline of the agent, the agent's own (`primary`) first */
  pipelines: readonly Pipeline[];
  /** the agent's `pipeline`: its applied rev keeps the state key of agents that had one updater */
  primary: string;
  store: BundleStore;
  fetcher: BundleFetcher;
  state: StateStore;
  loadModel: ModelLoader;
  logger: Logger;
  restartPolicy?: RestartPolicy;
}

/**
 * One updater per pipeline, behind the one desired-state topic: each message is validated once
 * and offered to every pipeline's updater, which applies its own entry (`pipelines[].bundle`
 * and `shadow` by id; a pipeline the message leaves out runs no model). The reported state lists
 * every pipeline; its `desiredRev` is the oldest rev any pipeline has acted on, so the hub sees
 * a rev once every pipeline has taken it. Bundle pruning keeps what any pipeline still needs.
 */
export class UpdaterSet extends EventEmitter<UpdaterEvents> {
  readonly #updaters: Updater[];
  readonly #log: Logger;
  readonly #opts: UpdaterSetOptions;
  /** the last valid desired state, offered to a pipeline added later (remote config) */
  #last: Desired | null = null;
  #invalid = 0;

  constructor(opts: UpdaterSetOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "updater" });
    this.#updaters = opts.pipelines.map((pipeline) => this.#updaterFor(pipeline));
  }

  #updaterFor(pipeline: Pipeline): Updater {
    const opts = this.#opts;
    const u = new Updater({
      pipeline,
      store: opts.store,
      fetcher: opts.fetcher,
      state: opts.state,
      appliedRevKey: appliedRevKey(pipeline.id, opts.primary),
      loadModel: opts.loadModel,
      logger: opts.logger,
      inUse: () => this.#updaters.flatMap((x) => x.bundlesInUse()),
      ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}),
    });
    u.on("changed", () => this.emit("changed"));
    return u;
  }

  /**
   * A pipeline added while the agent runs (remote config): it gets its own updater, which
   * restores the bundle it ran last from disk and then takes its entry of the last desired state.
   */
  async add(pipeline: Pipeline): Promise<void> {
    if (this.#updaters.some((u) => u.reported().id === pipeline.id)) return;
    const u = this.#updaterFor(pipeline);
    this.#updaters.push(u);
    await u.restore();
    if (this.#last) u.offer(this.#last);
    this.emit("changed");
  }

  /**
   * A pipeline removed while the agent runs: its updater stops and forgets the rev it applied,
   * so the pipeline takes the desired state again if it is added back. The caller unloads its model.
   */
  async remove(pipelineId: string): Promise<void> {
    const i = this.#updaters.findIndex((u) => u.reported().id === pipelineId);
    if (i < 0) return;
    const [u] = this.#updaters.splice(i, 1);
    await u?.stop();
    this.#opts.state.set(appliedRevKey(pipelineId, this.#opts.primary), -1);
    this.emit("changed");
  }

  /** The oldest desired rev a pipeline has acted on (applied or failed), -1 before any. */
  get desiredRev(): number {
    return Math.min(...this.#updaters.map((u) => u.desiredRev));
  }

  /** Desired messages that failed validation (counted, never thrown). */
  get invalidMessages(): number {
    return this.#invalid;
  }

  /** Every pipeline as reported to the hub. */
  pipelines(): ReportedPipeline[] {
    return this.#updaters.map((u) => u.reported());
  }

  /** Startup: every pipeline runs the bundle it ran last, from disk, one after the other. */
  async restore(): Promise<void> {
    for (const u of this.#updaters) await u.restore();
  }

  /** Takes a raw desired-state payload; an invalid one is logged and counted, never thrown. */
  /** Validates and offers a desired state to every pipeline; returns it, or null when invalid. */
  handleDesired(payload: Buffer): Desired | null {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch {
      value = undefined;
    }
    if (!checkDesired.check(value)) {
      this.#invalid++;
      const issues = value === undefined ? [{ path: "/", message: "not JSON" }] : checkDesired.issues(value);
      this.#log.warn("ignoring invalid desired state", { code: "KENSA_ERR_MQTT_PAYLOAD_INVALID", issues });
      return null;
    }
    this.#last = value;
    for (const u of this.#updaters) u.offer(value);
    return value;
  }

  /** Resolves when no pipeline is applying a desired state. */
  async idle(): Promise<void> {
    await Promise.all(this.#updaters.map((u) => u.idle()));
  }

  /** Aborts downloads in progress and waits for every apply loop to settle. */
  async stop(): Promise<void> {
    await Promise.all(this.#updaters.map((u) => u.stop()));
  }
}
