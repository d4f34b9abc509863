enum S {
  SeekSoi,
  MarkerFf,
  MarkerCode,
  Length1,
  Length2,
  Skip,
  Entropy,
  EntropyFf,
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

export interface JpegStreamParserOptions {
  /** bytes; a frame growing past this is dropped as corrupt (a broken stream must not eat memory) */
  maxFrameBytes?: number;
}

/**
 * Splits a byte stream of concatenated JPEGs (ffmpeg `-f image2pipe -c:v mjpeg`, or an MJPEG
 * body) into frames. It walks the JPEG segment structure rather than searching for FF D9,
 * because an EXIF thumbnail inside APP1 carries its own SOI/EOI and would cut a frame short;
 * only entropy-coded data is scanned byte-wise (FF 00 stuffing and RSTn markers skipped). On
 * garbage it drops the partial frame and resyncs on the next SOI.
 */
export class JpegStreamParser {
  readonly #max: number;
  #state = S.SeekSoi;
  /** bytes of the current frame from earlier chunks */
  #parts: Buffer[] = [];
  #partsBytes = 0;
  /** an FF at the very end of the previous chunk, while seeking SOI */
  #pendingFf = false;
  #lenHi = 0;
  #skip = 0;
  #afterSkip = S.MarkerFf;
  #dropped = 0;

  constructor(opts: JpegStreamParserOptions = {}) {
    this.#max = opts.maxFrameBytes ?? 32 * 1024 * 1024;
  }

  /** partial or oversized frames thrown away so far */
  get dropped(): number {
    return this.#dropped;
  }

  /** Feeds bytes; returns the frames they completed, in order. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    const n = chunk.length;
    // where the current frame starts in this chunk (0 when it began in an earlier one)
    let start = this.#state === S.SeekSoi ? -1 : 0;
    let i = 0;
    const reset = () => {
      this.#parts = [];
      this.#partsBytes = 0;
      this.#state = S.SeekSoi;
      start = -1;
    };
    const drop = () => {
      this.#dropped++;
      reset();
    };
    while (i < n) {
      switch (this.#state) {
        case S.SeekSoi: {
          if (this.#pendingFf) {
            this.#pendingFf = false;
            if (chunk[i] === SOI) {
              this.#parts = [Buffer.from([0xff])];
              this.#partsBytes = 1;
              start = 0;
              i++;
              this.#state = S.MarkerFf;
              break;
            }
          }
          const j = chunk.indexOf(0xff, i);
          if (j < 0 || j + 1 >= n) {
            this.#pendingFf = j >= 0;
            i = n;
            break;
          }
          if (chunk[j + 1] === SOI) {
            start = j;
            i = j + 2;
            this.#state = S.MarkerFf;
          } else {
            i = j + 1;
          }
          break;
        }
        case S.MarkerFf:
          if (chunk[i] !== 0xff) {
            drop();
            break;
          }
          i++;
          this.#state = S.MarkerCode;
          break;
        case S.MarkerCode:
        case S.EntropyFf: {
          const code = chunk[i] as number;
          i++;
          if (code === 0xff) break; // fill byte; the marker code follows
          if (this.#state === S.EntropyFf && (code === 0x00 || (code >= 0xd0 && code <= 0xd7))) {
            this.#state = S.Entropy; // stuffed FF or restart marker inside scan data
            break;
          }
          if (code === EOI) {
            const tail = chunk.subarray(start, i);
            const frame = this.#parts.length === 0 ? Buffer.from(tail) : Buffer.concat([...this.#parts, tail]);
            if (frame.length <= this.#max) frames.push(frame);
            else this.#dropped++;
            reset();
            break;
          }
          if (code === SOI) {
            // a new image before the previous ended: the previous was truncated
            this.#dropped++;
            this.#parts = [];
            this.#partsBytes = 0;
            start = i - 2;
            if (start < 0) {
              this.#parts = [Buffer.from([0xff])];
              this.#partsBytes = 1;
              start = 0;
            }
            this.#state = S.MarkerFf;
            break;
          }
          if (code === 0x01 || (code >= 0xd0 && code <= 0xd7)) {
            this.#state = S.MarkerFf; // standalone markers carry no length
            break;
          }
          this.#afterSkip = code === SOS ? S.Entropy : S.MarkerFf;
          this.#state = S.Length1;
          break;
        }
        case S.Length1:
          this.#lenHi = chunk[i++] as number;
          this.#state = S.Length2;
          break;
        case S.Length2: {
          const len = (this.#lenHi << 8) | (chunk[i++] as number);
          if (len < 2) {
            drop();
            break;
          }
          this.#skip = len - 2;
          this.#state = this.#skip > 0 ? S.Skip : this.#afterSkip;
          break;
        }
        case S.Skip: {
          const take = Math.min(this.#skip, n - i);
          i += take;
          this.#skip -= take;
          if (this.#skip === 0) this.#state = this.#afterSkip;
          break;
        }
        case S.Entropy: {
          const j = chunk.indexOf(0xff, i);
          if (j < 0) {
            i = n;
          } else {
            i = j + 1;
            this.#state = S.EntropyFf;
          }
          break;
        }
      }
    }
    if (this.#state !== S.SeekSoi && start >= 0) {
      const rest = chunk.subarray(start);
      this.#parts.push(rest);
      this.#partsBytes += rest.length;
      if (this.#partsBytes > this.#max) drop();
    }
    return frames;
  }
}
