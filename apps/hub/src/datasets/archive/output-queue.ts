/**
 * Collects what an archive library writes to its output stream, so an archive writer can hand
 * it out in step with the entries it was given. It holds at most what one entry produced: the
 * writer drains it before taking the next entry.
 */
export class OutputQueue {
  #chunks: Buffer[] = [];
  #ended = false;
  #error: unknown = null;
  #wake: (() => void) | null = null;

  /** `stream`: a Node or streamx readable of Buffers */
  constructor(stream: AsyncIterable<unknown>) {
    void this.#collect(stream);
  }

  async #collect(stream: AsyncIterable<unknown>): Promise<void> {
    try {
      for await (const chunk of stream) {
        this.#chunks.push(chunk as Buffer);
        this.#notify();
      }
      this.#ended = true;
    } catch (err) {
      this.fail(err);
    }
    this.#notify();
  }

  /** fails the stream's readers, e.g. with an error the library reports elsewhere */
  fail(err: unknown): void {
    this.#error ??= err;
    this.#notify();
  }

  /** Yields output until `done` has settled, then what had arrived by then. */
  async *until(done: Promise<unknown>): AsyncGenerator<Buffer> {
    let settled = false;
    let failure: unknown = null;
    const marked = done.then(
      () => {
        settled = true;
      },
      (err: unknown) => {
        settled = true;
        failure = err;
      },
    );
    for (;;) {
      yield* this.#take();
      if (failure) throw failure;
      if (settled || this.#ended) return;
      await Promise.race([marked, this.#next()]);
    }
  }

  /** Yields output until the stream ends. */
  async *rest(): AsyncGenerator<Buffer> {
    for (;;) {
      yield* this.#take();
      if (this.#ended) return;
      await this.#next();
    }
  }

  *#take(): Generator<Buffer> {
    if (this.#error) throw this.#error;
    while (this.#chunks.length > 0) yield this.#chunks.shift()!;
  }

  #next(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
