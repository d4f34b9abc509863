import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DesiredAgent, ReportedAgentUpdate, ReportedPipeline } from "@kensa/contracts";
import { isKensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import { installAgentRelease } from "./agent-release-install.js";

/** The exit code asking the launcher to start the release named in `<stateDir>/next`. */
export const agentRestartExitCode = 75;

/** The IPC message a release on trial sends the launcher once it is healthy. */
export const healthyMessage = "kensa-agent-healthy";

/** What a running agent tells its self-update (agent.ts). */
export interface AgentUpdateHook {
  /** the desired state's `agent` entry, on every desired state received */
  offer(ref: DesiredAgent | undefined): void;
  /** the running agent's health inputs; a release on trial reports healthy through them */
  watch(health: AgentHealth): void;
  reported(): ReportedAgentUpdate | undefined;
}

export interface AgentHealth {
  connected(): boolean;
  pipelines(): ReportedPipeline[];
  /** the hub's fetch (TLS settings) */
  fetch?: typeof fetch;
}

export interface AgentSelfUpdateOptions {
  deviceId: string;
  secret: string;
  hubUrl: string;
  dataDir: string;
  agentVersion: string;
  logger: Logger;
  /** KENSA_AGENT_STATE_DIR (set by the launcher; absent: not under the launcher, no self-update) and KENSA_AGENT_TRIAL */
  env: NodeJS.ProcessEnv;
  /** ms between health checks while on trial */
  healthPollMs?: number;
  /** IPC to the launcher; process.send by default */
  send?: (message: unknown) => void;
}

interface FailedRecord {
  version: string;
  reason: string;
}

/**
 * The agent's side of updates over the air (docs/bundles.md, "Agent updates"): installs a desired
 * release beside the running one and asks the launcher to restart into it; on trial, tells the
 * launcher once it is healthy (connected to the hub, no pipeline loading or failed); reports
 * where it stands, including a trial the launcher rolled back (`<stateDir>/failed`).
 */
export class AgentSelfUpdate implements AgentUpdateHook {
  readonly #o: AgentSelfUpdateOptions;
  readonly #log: Logger;
  readonly #stateDir: string | null;
  #state: ReportedAgentUpdate;
  #failed: FailedRecord | null;
  /** manifests refused for good (invalid, older): not fetched again */
  readonly #refused = new Set<string>();
  #busy = false;
  #fetch: typeof fetch | undefined;
  #health: NodeJS.Timeout | undefined;
  #restart: (() => void) | undefined;

  constructor(o: AgentSelfUpdateOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: "agent-update" });
    this.#stateDir = o.env.KENSA_AGENT_STATE_DIR || null;
    this.#failed = this.#stateDir ? readFailed(join(this.#stateDir, "failed")) : null;
    const trial = o.env.KENSA_AGENT_TRIAL === o.agentVersion;
    this.#state = trial
      ? { state: "trial", version: o.agentVersion }
      : this.#failed && this.#failed.version !== o.agentVersion
        ? {
            state: "failed",
            version: this.#failed.version,
            error: { code: "KENSA_ERR_AGENT_UPDATE_FAILED", message: this.#failed.reason },
          }
        : { state: "idle" };
    if (this.#state.state === "failed") this.#log.error("agent update rolled back", { ...this.#failed });
  }

  /** Called once a release is installed: the CLI stops the agent and exits with agentRestartExitCode. */
  onRestart(cb: () => void): void {
    this.#restart = cb;
  }

  reported(): ReportedAgentUpdate {
    return this.#state;
  }

  watch(health: AgentHealth): void {
    this.#fetch = health.fetch;
    if (this.#state.state !== "trial") return;
    clearInterval(this.#health);
    const check = () => {
      const pipelines = health.pipelines();
      if (!health.connected() || pipelines.some((p) => p.status === "loading" || p.status === "error")) return;
      clearInterval(this.#health);
      this.#state = { state: "idle" };
      this.#log.info("agent release healthy on trial", { version: this.#o.agentVersion });
      const send = this.#o.send ?? (process.send ? (m: unknown) => process.send?.(m) : undefined);
      send?.({ type: healthyMessage, version: this.#o.agentVersion });
    };
    this.#health = setInterval(check, this.#o.healthPollMs ?? 500);
    this.#health.unref();
  }

  offer(ref: DesiredAgent | undefined): void {
    if (!ref || ref.version === this.#o.agentVersion || this.#busy) return;
    if (this.#refused.has(ref.manifestSha256) || this.#failed?.version === ref.version) return;
    if (!this.#stateDir) {
      this.#fail(ref, "KENSA_ERR_AGENT_UPDATE_FAILED", "this agent was not started by the launcher (launcher.mjs)");
      this.#refused.add(ref.manifestSha256);
      return;
    }
    this.#busy = true;
    this.#state = { state: "installing", version: ref.version };
    const { deviceId, secret, hubUrl, dataDir, agentVersion } = this.#o;
    installAgentRelease(
      {
        stateDir: this.#stateDir,
        dataDir,
        deviceId,
        secret,
        hubUrl,
        runningVersion: agentVersion,
        logger: this.#log,
        ...(this.#fetch ? { fetch: this.#fetch } : {}),
      },
      ref,
    ).then(
      () => {
        this.#state = { state: "restarting", version: ref.version };
        this.#log.info("restarting into the new agent release", { version: ref.version });
        this.#restart?.();
      },
      (err: unknown) => {
        this.#busy = false;
        const code = isKensaError(err) ? err.code : "KENSA_ERR_AGENT_UPDATE_FAILED";
        // a download that failed is tried again with the next desired state; a refusal is final
        if (code === "KENSA_ERR_AGENT_RELEASE_INVALID" || code === "KENSA_ERR_AGENT_RELEASE_ROLLBACK")
          this.#refused.add(ref.manifestSha256);
        this.#fail(ref, code, (err as Error).message);
      },
    );
  }

  stop(): void {
    clearInterval(this.#health);
  }

  #fail(ref: DesiredAgent, code: string, message: string): void {
    this.#state = { state: "failed", version: ref.version, error: { code, message } };
    this.#log.error("agent release refused", { version: ref.version, code, message });
  }
}

function readFailed(file: string): FailedRecord | null {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as Partial<FailedRecord>;
    return typeof v.version === "string" ? { version: v.version, reason: String(v.reason ?? "unknown") } : null;
  } catch {
    return null;
  }
}
