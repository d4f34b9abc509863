import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type DeliveredDeviceConfig,
  type Desired,
  deviceConfigIssues,
  deviceConfigSha256,
  type ErrorCode,
  type Issue,
  type ReportedConfig,
} from "@kensa/contracts";
import type { AgentConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { keysNeedingRestart, prepareConfig } from "./effective-config.js";
import type { RemoteConfigStore, StoredRemoteConfig } from "./remote-config-store.js";

type ConfigRef = NonNullable<Desired["config"]>;

/** What the controller changes: the running agent, through its host. */
export interface ConfigTarget {
  /** the config running now */
  running(): AgentConfig;
  /** applies sources and capture while the agent runs */
  applyLive(next: AgentConfig): Promise<void>;
  /** stops the agent's components and starts them again on `next` (same process) */
  restart(next: AgentConfig): Promise<void>;
}

export interface RemoteConfigOptions {
  /** agent.json with flags and env: the layer the remote config is laid over */
  base: AgentConfig;
  store: RemoteConfigStore;
  /** the remote config running at start, from the store */
  initial: StoredRemoteConfig | undefined;
  /** paths of `initial` a local override pins */
  overridden: string[];
  /** GET /api/v1/devices/:id/config/delivered */
  fetchConfig(signal: AbortSignal): Promise<DeliveredDeviceConfig>;
  logger: Logger;
  /** ms before the first refetch after a failed fetch; doubles to 60 s */
  retryMs?: number;
}

/**
 * Follows the `config` of the desired state: fetches the revision it names, checks its sha256,
 * the contracts' schema, the agent's own schema and what can be checked on the device, then
 * applies it live (sources, capture) or by restarting the agent's components in-process, and
 * keeps it in the data dir. A config that fails any check is refused with a code and its key
 * paths, reported, and not tried again; the running one stays.
 */
export class RemoteConfig extends EventEmitter<{ changed: [] }> {
  readonly #o: RemoteConfigOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #target: ConfigTarget | undefined;
  #attached: () => void = () => {};
  // a desired state can arrive while the agent is still starting, before the host attaches it
  readonly #ready = new Promise<void>((resolve) => {
    this.#attached = resolve;
  });
  #running: StoredRemoteConfig | undefined;
  #overridden: string[];
  #wanted: ConfigRef | undefined;
  #desiredRev = 0;
  #refused: { sha256: string; code: ErrorCode; message: string; issues?: Issue[] } | undefined;
  #busy: Promise<void> | undefined;

  constructor(opts: RemoteConfigOptions) {
    super();
    this.#o = opts;
    this.#log = opts.logger.child({ component: "remote-config" });
    this.#running = opts.initial;
    this.#overridden = opts.overridden;
    this.#desiredRev = opts.initial?.rev ?? 0;
  }

  attach(target: ConfigTarget): void {
    this.#target = target;
    this.#attached();
  }

  /** Takes the `config` of a validated desired state (undefined: the hub sets none). */
  offer(ref: ConfigRef | undefined): void {
    if (!ref || this.#abort.signal.aborted || !this.#o.base.remoteConfig) return;
    // the hub's word is the latest message, even with a lower rev (a hub whose database was replaced)
    if (ref.rev !== this.#desiredRev) {
      this.#desiredRev = ref.rev;
      this.emit("changed");
    }
    if (ref.sha256 === this.#running?.sha256 && this.#running.rev === ref.rev) return;
    if (ref.sha256 === this.#refused?.sha256) return;
    this.#wanted = ref;
    this.#busy ??= this.#drain().finally(() => {
      this.#busy = undefined;
    });
  }

  reported(): ReportedConfig {
    const r = this.#running;
    const refused = this.#refused;
    return {
      rev: r?.rev ?? 0,
      ...(r ? { sha256: r.sha256, appliedAt: r.appliedAt } : {}),
      desiredRev: this.#desiredRev,
      status: refused ? "rejected" : r ? "applied" : "local",
      ...(refused
        ? {
            error: {
              code: refused.code,
              message: refused.message,
              ...(refused.issues ? { issues: refused.issues } : {}),
            },
          }
        : {}),
      ...(this.#overridden.length ? { overridden: this.#overridden } : {}),
      ...(r?.restarted?.length ? { restarted: r.restarted } : {}),
    };
  }

  /** Resolves when no config is being fetched or applied. */
  async idle(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.idle();
  }

  async #drain(): Promise<void> {
    let delay = this.#o.retryMs ?? 1000;
    while (this.#wanted && !this.#abort.signal.aborted) {
      const ref = this.#wanted;
      let delivered: DeliveredDeviceConfig;
      try {
        delivered = await this.#o.fetchConfig(this.#abort.signal);
        if (delivered.rev < ref.rev)
          throw new Error(`the hub sent rev ${delivered.rev}, the desired state names ${ref.rev}`);
        const sha = deviceConfigSha256(delivered.config);
        if (sha !== delivered.sha256 || (delivered.rev === ref.rev && sha !== ref.sha256)) {
          throw new Error(`the config's sha256 ${sha} is not the one the hub named`);
        }
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#refuse(ref.sha256, "KENSA_ERR_DEVICE_CONFIG_FETCH_FAILED", (err as Error).message, undefined, false);
        this.#log.warn("cannot fetch the remote config; retrying", {
          rev: ref.rev,
          err: (err as Error).message,
          delay,
        });
        await sleep(delay, undefined, { signal: this.#abort.signal }).catch(() => {});
        delay = Math.min(delay * 2, 60_000);
        continue;
      }
      // a newer revision named while fetching is fetched next; this one may already be it
      if (this.#wanted === ref) this.#wanted = undefined;
      await this.#apply(delivered);
    }
  }

  async #apply(d: DeliveredDeviceConfig): Promise<void> {
    await Promise.race([
      this.#ready,
      new Promise((resolve) => this.#abort.signal.addEventListener("abort", resolve, { once: true })),
    ]);
    const target = this.#target;
    if (!target || (d.sha256 === this.#running?.sha256 && d.rev === this.#running.rev)) return;
    const schemaIssues = deviceConfigIssues(d.config);
    if (schemaIssues.length > 0) {
      this.#refuse(
        d.sha256,
        "KENSA_ERR_DEVICE_CONFIG_REJECTED",
        "the config does not match this agent's schema",
        schemaIssues,
      );
      return;
    }
    const prepared = await prepareConfig(this.#o.base, d.config);
    if (!prepared.ok) {
      this.#refuse(d.sha256, "KENSA_ERR_DEVICE_CONFIG_REJECTED", prepared.message, prepared.issues);
      return;
    }
    const restart = keysNeedingRestart(target.running(), prepared.config);
    const stored: StoredRemoteConfig = {
      rev: d.rev,
      sha256: d.sha256,
      config: d.config,
      appliedAt: new Date().toISOString(),
      ...(restart.length ? { restarted: restart } : {}),
    };
    try {
      if (restart.length > 0) {
        // kept first, so a crash mid-way comes back on it; reported once the components run on it
        await this.#o.store.write(stored);
        this.#log.info("remote config needs a restart of the agent's components", { rev: d.rev, keys: restart });
        try {
          await target.restart(prepared.config);
        } catch (err) {
          // the host went back to the previous config: keep that one
          const previous = this.#running;
          await (previous ? this.#o.store.write(previous) : this.#o.store.clear());
          throw err;
        }
        this.#commit(stored, prepared.overridden);
      } else {
        await target.applyLive(prepared.config);
        await this.#o.store.write(stored);
        this.#commit(stored, prepared.overridden);
        this.#log.info("remote config applied", { rev: d.rev });
      }
    } catch (err) {
      this.#log.error("remote config could not be applied", { rev: d.rev, err });
      this.#refuse(d.sha256, "KENSA_ERR_DEVICE_CONFIG_REJECTED", `applying failed: ${(err as Error).message}`);
    }
  }

  #commit(stored: StoredRemoteConfig, overridden: string[]): void {
    this.#running = stored;
    this.#overridden = overridden;
    this.#refused = undefined;
    this.emit("changed");
  }

  #refuse(sha256: string, code: ErrorCode, message: string, issues?: Issue[], final = true): void {
    // a fetch failure is retried, so it must not mark the revision as refused for good
    this.#refused = { sha256: final ? sha256 : "", code, message, ...(issues ? { issues } : {}) };
    if (final) this.#log.warn("remote config refused; the running config stays", { code, message, issues });
    this.emit("changed");
  }
}
