import { percentile } from "@kensa/vision";

/** s; from a 6 ms int8 model to a multi-second stall on a starved device */
export const latencyBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Inference latency of one pipeline: a cumulative histogram for /metrics and the last 500 samples for percentiles. */
export class LatencyHistogram {
  readonly counts = new Array<number>(latencyBounds.length + 1).fill(0);
  /** s */
  sum = 0;
  readonly #recent: number[] = [];
  #next = 0;

  /** Records one inference that took `ms`. */
  observe(ms: number): void {
    const s = ms / 1000;
    let i = latencyBounds.findIndex((le) => s <= le);
    if (i < 0) i = latencyBounds.length;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += s;
    this.#recent[this.#next] = ms;
    this.#next = (this.#next + 1) % 500;
  }

  /** ms percentiles over the last 500 inferences */
  percentiles(): { p50: number; p95: number; p99: number } {
    const r = (p: number) => Math.round(percentile(this.#recent, p) * 100) / 100;
    return { p50: r(50), p95: r(95), p99: r(99) };
  }
}
