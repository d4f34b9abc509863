/**
 * Events per second over a sliding window (default 5 s), from a ring of timestamps: O(1) per
 * event, exact over the window, and it falls to 0 when a source goes quiet.
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #times: Float64Array;
  #next = 0;
  #count = 0;

  constructor(windowMs = 5000, capacity = 1024) {
    this.#windowMs = windowMs;
    this.#times = new Float64Array(capacity);
  }

  mark(nowMs: number = performance.now()): void {
    this.#times[this.#next] = nowMs;
    this.#next = (this.#next + 1) % this.#times.length;
    this.#count = Math.min(this.#count + 1, this.#times.length);
  }

  /** events per second over the window ending now */
  rate(nowMs: number = performance.now()): number {
    const cap = this.#times.length;
    let n = 0;
    let oldest = nowMs;
    for (let k = 1; k <= this.#count; k++) {
      const t = this.#times[(this.#next - k + cap) % cap] as number;
      if (t < nowMs - this.#windowMs) break;
      n++;
      oldest = t;
    }
    if (n < 2) return 0;
    // n-1 intervals over the span from the oldest event to now: exact while events flow, and it
    // decays when they stop; a source that just started is not under-read by a half-empty window
    const spanMs = Math.max(nowMs - oldest, 1);
    return Math.round(((n - 1) / spanMs) * 1000 * 100) / 100;
  }
}
