import { percentile } from "@kensa/vision";

/** Inference latency of one pipeline: the last 500 samples, for the status API's percentiles. */
export class LatencyWindow {
  readonly #recent: number[] = [];
  #next = 0;

  /** Records one inference that took `ms`. */
  observe(ms: number): void {
    this.#recent[this.#next] = ms;
    this.#next = (this.#next + 1) % 500;
  }

  /** ms percentiles over the last 500 inferences */
  percentiles(): { p50: number; p95: number; p99: number } {
    const r = (p: number) => Math.round(percentile(this.#recent, p) * 100) / 100;
    return { p50: r(50), p95: r(95), p99: r(99) };
  }
}
