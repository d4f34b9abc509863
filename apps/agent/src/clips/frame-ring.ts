import type { Frame } from "../sources/frame-source.js";

/**
 * The last `spanMs` of one source's frames, in memory, bounded by bytes too (a 4K camera at
 * 30 fps would otherwise hold gigabytes). Frames are the source's JPEGs as they came, so
 * keeping them costs no encoding.
 */
export class FrameRing {
  readonly #spanMs: number;
  readonly #maxBytes: number;
  readonly #frames: Frame[] = [];
  #bytes = 0;

  constructor(spanMs: number, maxBytes: number) {
    this.#spanMs = spanMs;
    this.#maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#frames.length;
  }

  push(frame: Frame): void {
    this.#frames.push(frame);
    this.#bytes += frame.image.byteLength;
    const oldest = frame.capturedAt.getTime() - this.#spanMs;
    while (this.#frames.length > 1) {
      const first = this.#frames[0] as Frame;
      if (first.capturedAt.getTime() >= oldest && this.#bytes <= this.#maxBytes) break;
      this.#frames.shift();
      this.#bytes -= first.image.byteLength;
    }
  }

  /** Frames captured at or after `fromMs` (ms epoch), oldest first. */
  since(fromMs: number): Frame[] {
    return this.#frames.filter((f) => f.capturedAt.getTime() >= fromMs);
  }
}
