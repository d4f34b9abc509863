import { arch, platform } from "node:os";
import {
  type Reported,
  type ReportedAgentUpdate,
  type ReportedConfig,
  type ReportedPipeline,
  topics,
} from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { FrameSource } from "../sources/frame-source.js";
import type { MqttLink } from "./mqtt-link.js";

/** when this process started (its uptime subtracted from now, once) */
const PROCESS_STARTED_AT = new Date(Date.now() - process.uptime() * 1000).toISOString();

/** Node's `os.arch()` in the fleet's vocabulary (x64, arm64, armv7). */
export function deviceArch(nodeArch: string = arch()): string {
  if (nodeArch === "arm") return "armv7";
  return nodeArch;
}

/** The pipelines' models as the updaters see them (UpdaterSet). */
export interface PipelineReports {
  /** the desired rev acted on */
  readonly desiredRev: number;
  pipelines(): ReportedPipeline[];
  on(event: "changed", listener: () => void): unknown;
  off(event: "changed", listener: () => void): unknown;
}

export interface StateReporterOptions {
  deviceId: string;
  agentVersion: string;
  /** ms between unsolicited reports */
  intervalMs: number;
  updates: PipelineReports;
  /** the sources, or a function giving them now (a remote config changes them while the agent runs) */
  sources: readonly FrameSource[] | (() => readonly FrameSource[]);
  link: MqttLink;
  /** where the remote config stands; omitted from the report when undefined */
  config?: () => ReportedConfig | undefined;
  logger: Logger;
  /** the persisted count of events deleted unsent (disk emergency) */
  eventsDropped?: () => number;
  eventsRejected?: () => number;
  /** the agent's self-update, when it runs one */
  agentUpdate?: () => ReportedAgentUpdate | undefined;
}

/**
 * Publishes the reported state (QoS 1, not retained) on connect, on every change and every
 * interval. Bursts of changes within one tick are coalesced into one message.
 */
export class StateReporter {
  readonly #o: StateReporterOptions;
  #timer: NodeJS.Timeout | undefined;
  #scheduled: NodeJS.Immediate | undefined;
  readonly #changed = () => this.changed();

  constructor(opts: StateReporterOptions) {
    this.#o = opts;
  }

  start(): void {
    this.#o.updates.on("changed", this.#changed);
    this.#o.link.on("connect", this.#changed);
    for (const s of this.#sources()) this.watch(s);
    this.#timer = setInterval(() => this.#publish(), this.#o.intervalMs);
    this.#timer.unref();
    this.changed();
  }

  stop(): void {
    clearInterval(this.#timer);
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#o.updates.off("changed", this.#changed);
    this.#o.link.off("connect", this.#changed);
    for (const s of this.#sources()) this.unwatch(s);
  }

  #sources(): readonly FrameSource[] {
    const s = this.#o.sources;
    return typeof s === "function" ? s() : s;
  }

  /** Reports on the changes of a source (one added while the agent runs). */
  watch(s: FrameSource): void {
    s.on("error", this.#changed);
    s.on("end", this.#changed);
    s.on("status", this.#changed);
  }

  unwatch(s: FrameSource): void {
    s.off("error", this.#changed);
    s.off("end", this.#changed);
    s.off("status", this.#changed);
  }

  /** Schedules a report for the end of this tick. */
  changed(): void {
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined;
      this.#publish();
    });
  }

  snapshot(): Reported {
    return {
      v: 1,
      ts: new Date().toISOString(),
      agentVersion: this.#o.agentVersion,
      // when this agent process started: a later value than the hub saw means it restarted
      startedAt: PROCESS_STARTED_AT,
      arch: deviceArch(),
      platform: platform(),
      desiredRev: this.#o.updates.desiredRev,
      pipelines: this.#o.updates.pipelines(),
      sources: this.#sources().map((s) => ({
        id: s.id,
        type: s.type,
        status: s.status,
        ...((s.status === "error" || s.status === "failed") && s.lastError
          ? { error: { code: s.lastError.code, message: s.lastError.message } }
          : {}),
      })),
      ...(this.#o.eventsDropped ? { eventsDropped: this.#o.eventsDropped() } : {}),
      ...(this.#o.eventsRejected ? { eventsRejected: this.#o.eventsRejected() } : {}),
      ...this.#configPart(),
      ...this.#agentUpdatePart(),
    };
  }

  #agentUpdatePart(): { agentUpdate?: ReportedAgentUpdate } {
    const agentUpdate = this.#o.agentUpdate?.();
    return agentUpdate ? { agentUpdate } : {};
  }

  #configPart(): { config?: ReportedConfig } {
    const config = this.#o.config?.();
    return config ? { config } : {};
  }

  #publish(): void {
    if (!this.#o.link.connected) return;
    const reported = this.snapshot();
    this.#o.link.publish(topics.reported(this.#o.deviceId), JSON.stringify(reported), { qos: 1 }, (err) => {
      if (err) this.#o.logger.debug("reported state not acknowledged", { err });
    });
  }
}
