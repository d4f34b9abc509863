export interface SampleOptions {
  /** frames per second at most */
  maxFps?: number | undefined;
  /** keep every Nth frame, starting with the first */
  everyNth?: number | undefined;
}

/**
 * Per-source frame sampling before inference: `everyNth` on the raw stream, then a `maxFps`
 * cap. The cap keeps a schedule (next due = previous due + period) rather than "period since
 * the last kept frame", so a 30 fps camera capped at 10 keeps exactly every third frame
 * instead of beating between every third and fourth on jittery arrival times.
 */
export class FrameSampler {
  readonly #periodMs: number;
  readonly #nth: number;
  #seen = 0;
  #due = Number.NEGATIVE_INFINITY;

  constructor(opts: SampleOptions = {}) {
    this.#periodMs = opts.maxFps ? 1000 / opts.maxFps : 0;
    this.#nth = opts.everyNth ?? 1;
  }

  /** whether this sampler drops anything at all */
  get active(): boolean {
    return this.#periodMs > 0 || this.#nth > 1;
  }

  /** Whether to keep a frame that arrived at `nowMs` (a monotonic clock). */
  accept(nowMs: number = performance.now()): boolean {
    const index = this.#seen++;
    if (index % this.#nth !== 0) return false;
    if (this.#periodMs === 0) return true;
    // 10 % tolerance: a frame a hair early for its slot still takes it
    if (nowMs < this.#due - this.#periodMs * 0.1) return false;
    const next = this.#due + this.#periodMs;
    // after a gap (or at the start) begin a fresh schedule instead of letting a burst through
    this.#due = next < nowMs - this.#periodMs ? nowMs + this.#periodMs : next;
    return true;
  }
}
