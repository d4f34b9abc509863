import type { DefectType, SynthDefect } from "./defect-type.js";

/**
 * Collects the pixels one defect's rasteriser marks as its own, so the mask, box and area come
 * from the very loop that drew the defect. Every rasteriser visits each pixel of its bounding
 * box once, so a pixel is never added twice.
 */
export class DefectRegion {
  readonly width: number;
  readonly height: number;
  #pixels = new Int32Array(256);
  #n = 0;
  #x0 = Number.POSITIVE_INFINITY;
  #y0 = Number.POSITIVE_INFINITY;
  #x1 = -1;
  #y1 = -1;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
  }

  add(x: number, y: number): void {
    if (this.#n === this.#pixels.length) {
      const grown = new Int32Array(this.#pixels.length * 2);
      grown.set(this.#pixels);
      this.#pixels = grown;
    }
    this.#pixels[this.#n++] = y * this.width + x;
    if (x < this.#x0) this.#x0 = x;
    if (x > this.#x1) this.#x1 = x;
    if (y < this.#y0) this.#y0 = y;
    if (y > this.#y1) this.#y1 = y;
  }

  get area(): number {
    return this.#n;
  }

  /**
   * Tight [x, y, w, h] of the marked pixels. A defect too small to cover any pixel centre (only
   * on frames near the 32 px minimum) claims the pixel under its centre, which it did darken.
   */
  box(cx: number, cy: number): [x: number, y: number, w: number, h: number] {
    if (this.#n === 0) {
      this.add(
        Math.min(this.width - 1, Math.max(0, Math.round(cx))),
        Math.min(this.height - 1, Math.max(0, Math.round(cy))),
      );
    }
    return [this.#x0, this.#y0, this.#x1 - this.#x0 + 1, this.#y1 - this.#y0 + 1];
  }

  /** The finished defect: its type, tight box and area. */
  finish(type: DefectType, cx: number, cy: number): SynthDefect {
    const box = this.box(cx, cy);
    return { type, box, area: this.#n };
  }

  /** Row-major indices (y * width + x) of the marked pixels, in marking order. */
  pixels(): Int32Array {
    return this.#pixels.slice(0, this.#n);
  }
}
