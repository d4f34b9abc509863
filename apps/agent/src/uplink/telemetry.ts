import { type Telemetry, topics } from "@kensa/contracts";
import { percentile } from "@kensa/vision";
import type { Pipeline } from "../inference/pipeline.js";
import type { Logger } from "../logger.js";
import type { MediaQueue } from "../storage/media-queue.js";
import type { Outbox } from "../storage/outbox.js";
import type { MqttLink } from "./mqtt-link.js";

/** latency samples kept for the percentiles */
const latencyWindow = 500;

export interface TelemetryOptions {
  deviceId: string;
  /** ms between messages */
  intervalMs: number;
  /** every pipeline of the agent; the message sums them */
  pipelines: readonly Pipeline[];
  outbox: Outbox;
  media: MediaQueue;
  link: MqttLink;
  logger: Logger;
  /** capture queue depth and the persisted loss counters */
  extra?: () => Pick<Telemetry, "captureQueueDepth" | "eventsDropped" | "mediaEvicted">;
}

/**
 * Publishes fps, latency percentiles and queue depths every interval, QoS 0: a lost sample is
 * superseded by the next one and is not worth a slot in the outbox.
 */
export class TelemetryReporter {
  readonly #o: TelemetryOptions;
  readonly #latencies: number[] = [];
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #windowStart = performance.now();
  #inferredAtWindowStart = 0;
  readonly #onInferred = (event: { latencyMs: { total: number } }) => this.#record(event.latencyMs.total);

  constructor(opts: TelemetryOptions) {
    this.#o = opts;
  }

  start(): void {
    for (const p of this.#o.pipelines) p.on("inferred", this.#onInferred);
    this.#windowStart = performance.now();
    this.#inferredAtWindowStart = this.#stats().framesInferred;
    this.#timer = setInterval(() => this.#publish(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const p of this.#o.pipelines) p.off("inferred", this.#onInferred);
  }

  #stats(): { framesTotal: number; framesInferred: number; framesDropped: number } {
    const sum = { framesTotal: 0, framesInferred: 0, framesDropped: 0 };
    for (const p of this.#o.pipelines) {
      const s = p.stats();
      sum.framesTotal += s.framesTotal;
      sum.framesInferred += s.framesInferred;
      sum.framesDropped += s.framesDropped;
    }
    return sum;
  }

  /** Current numbers; `fps` covers the time since the last published message. */
  snapshot(): Telemetry {
    const stats = this.#stats();
    const seconds = (performance.now() - this.#windowStart) / 1000;
    const fps = seconds > 0 ? (stats.framesInferred - this.#inferredAtWindowStart) / seconds : 0;
    return {
      v: 1,
      ts: new Date().toISOString(),
      fps: Math.round(fps * 100) / 100,
      latencyMs: {
        p50: round2(percentile(this.#latencies, 50)),
        p95: round2(percentile(this.#latencies, 95)),
      },
      framesTotal: stats.framesTotal,
      framesDropped: stats.framesDropped,
      outboxDepth: this.#o.outbox.depth(),
      mediaQueueDepth: this.#o.media.depth(),
      ...this.#o.extra?.(),
    };
  }

  #record(ms: number): void {
    // ring buffer: the last `latencyWindow` frames, O(1) per frame
    this.#latencies[this.#next] = ms;
    this.#next = (this.#next + 1) % latencyWindow;
  }

  #publish(): void {
    const t = this.snapshot();
    this.#windowStart = performance.now();
    this.#inferredAtWindowStart = this.#stats().framesInferred;
    if (!this.#o.link.connected) return;
    this.#o.link.publish(topics.telemetry(this.#o.deviceId), JSON.stringify(t), { qos: 0 }, (err) => {
      if (err) this.#o.logger.debug("telemetry not sent", { err });
    });
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
