export interface Batch<T> {
  items: T[];
}

export interface EventBatcherOptions<T> {
  /** most items per commit */
  maxBatch: number;
  /**
   * ms at most to let the next batch gather after a commit, when fewer than `maxBatch` items
   * wait: as long as the last commit took, up to this. 0 takes what is there at once.
   */
  maxLingerMs?: number;
  /** stores a batch; a rejection is the caller's to count (the batcher only sequences) */
  commit(batch: Batch<T>): Promise<void>;
}

/**
 * Group commit: items queue while one batch commits, and the next batch takes what gathered
 * (up to `maxBatch`). Under light load each item commits alone within the same tick; under
 * heavy load batches grow by themselves, so the cost of a commit (an fsync, a round trip) is
 * shared by many items without waiting for a timer.
 */
export class EventBatcher<T> {
  readonly #o: EventBatcherOptions<T>;
  #queue: Array<{ item: T; done: () => void }> = [];
  #running = false;
  #scheduled = false;
  #idle: Array<() => void> = [];
  #roomWaiters: Array<{ level: number; resolve: (ok: boolean) => void }> = [];

  constructor(opts: EventBatcherOptions<T>) {
    this.#o = opts;
  }

  /** items waiting for a commit (not counting the batch committing now) */
  get size(): number {
    return this.#queue.length;
  }

  /** Queues an item; resolves after the batch holding it committed or failed. */
  add(item: T): Promise<void> {
    return new Promise<void>((done) => {
      this.#queue.push({ item, done });
      this.#schedule();
    });
  }

  /**
   * Resolves true once fewer than `level` items wait, or false after `waitMs`.
   */
  room(level: number, waitMs: number): Promise<boolean> {
    if (this.#queue.length < level) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        level,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.#roomWaiters = this.#roomWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, waitMs);
      this.#roomWaiters.push(waiter);
    });
  }

  /** resolves when nothing is queued or committing */
  idle(): Promise<void> {
    if (!this.#running && !this.#scheduled && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    // what arrives in the same tick (one socket read holds many MQTT packets) joins this batch
    setImmediate(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const taken = this.#queue.splice(0, this.#o.maxBatch);
        this.#wakeRoomWaiters();
        const started = performance.now();
        try {
          await this.#o.commit({ items: taken.map((t) => t.item) });
        } catch {
          // the commit function counts and reports its own failures
        }
        for (const t of taken) t.done();
        // Under a steady stream a batch that commits at once makes the next one small, and a
        // small batch costs nearly what a large one does (a transaction, a row per device, a
        // confirmation per device): wait about as long as the last commit took for more.
        const linger = Math.min(this.#o.maxLingerMs ?? 0, performance.now() - started);
        if (linger >= 1 && this.#queue.length > 0 && this.#queue.length < this.#o.maxBatch) {
          await new Promise((r) => setTimeout(r, linger));
        }
      }
    } finally {
      this.#running = false;
    }
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  #wakeRoomWaiters(): void {
    if (this.#roomWaiters.length === 0) return;
    const ready = this.#roomWaiters.filter((w) => this.#queue.length < w.level);
    this.#roomWaiters = this.#roomWaiters.filter((w) => this.#queue.length >= w.level);
    for (const w of ready) w.resolve(true);
  }
}
