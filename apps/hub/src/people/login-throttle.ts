/** failed sign-ins per (username, address) allowed within WINDOW_MS */
const MAX_FAILURES = 5;
/** ms */
const WINDOW_MS = 60_000;
/** keys remembered at most; the oldest is forgotten first, so a spray of names cannot grow memory */
const MAX_KEYS = 10_000;

/**
 * Slows password guessing: after 5 failures for one username from one address within a
 * minute, further attempts are refused until the oldest failure leaves the window. Keyed by
 * both, so an attacker elsewhere cannot lock a user out. In memory: each hub replica counts
 * on its own, which bounds guesses per replica.
 */
export class LoginThrottle {
  #failures = new Map<string, number[]>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** ms until another attempt is allowed; 0 when it is allowed now */
  retryAfterMs(username: string, ip: string): number {
    const times = this.#recent(key(username, ip));
    if (times.length < MAX_FAILURES) return 0;
    return Math.max(1, times[times.length - MAX_FAILURES]! + WINDOW_MS - this.#now());
  }

  failed(username: string, ip: string): void {
    const k = key(username, ip);
    const times = this.#recent(k);
    times.push(this.#now());
    this.#failures.delete(k); // re-insert: Map order is then least recently failed first
    if (this.#failures.size >= MAX_KEYS) {
      const oldest = this.#failures.keys().next();
      if (!oldest.done) this.#failures.delete(oldest.value);
    }
    this.#failures.set(k, times.slice(-MAX_FAILURES));
  }

  succeeded(username: string, ip: string): void {
    this.#failures.delete(key(username, ip));
  }

  #recent(k: string): number[] {
    const cutoff = this.#now() - WINDOW_MS;
    const times = (this.#failures.get(k) ?? []).filter((t) => t > cutoff);
    if (times.length === 0) this.#failures.delete(k);
    return times;
  }
}

function key(username: string, ip: string): string {
  return `${username.trim().toLowerCase()}\0${ip}`;
}
