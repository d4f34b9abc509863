/**
 * At most `size` holders at once; the others wait in arrival order. Used to bound work whose
 * memory grows with each concurrent run (image decoding).
 */
export class Semaphore {
  #free: number;
  #waiting: Array<() => void> = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`semaphore size must be a positive integer: ${size}`);
    this.#free = size;
  }

  /** holders waiting for a slot */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `fn` once a slot is free; the slot is given back however `fn` ends. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}
