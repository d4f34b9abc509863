export interface MultipartPart {
  /** header names lower-cased */
  headers: Record<string, string>;
  body: Buffer;
}

export interface MultipartStreamParserOptions {
  /** bytes; a part or header block past this is an error (a broken stream must not eat memory) */
  maxPartBytes?: number;
}

const crlfcrlf = Buffer.from("\r\n\r\n");

/** The boundary of a `multipart/x-mixed-replace; boundary=…` content type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/**
 * Streaming parser for `multipart/x-mixed-replace` bodies (MJPEG over HTTP). Parts are framed
 * by Content-Length when the camera sends it (the common case, and immune to boundary bytes
 * inside JPEG data), otherwise by the next delimiter. Cameras disagree on whether the boundary
 * parameter already includes the leading `--`; both spellings are accepted.
 */
export class MultipartStreamParser {
  readonly #delimiters: Buffer[];
  readonly #max: number;
  #delimiter: Buffer | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #headers: Record<string, string> | undefined;
  #length: number | undefined;
  /** where to resume searching for the closing delimiter in `#buf` */
  #searchFrom = 0;

  constructor(boundary: string, opts: MultipartStreamParserOptions = {}) {
    const spellings = [`--${boundary}`];
    if (boundary.startsWith("--")) spellings.push(boundary);
    this.#delimiters = spellings.map((s) => Buffer.from(s));
    this.#max = opts.maxPartBytes ?? 32 * 1024 * 1024;
  }

  /** Feeds bytes; returns the parts they completed. Throws on a part larger than the limit. */
  push(chunk: Buffer): MultipartPart[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const parts: MultipartPart[] = [];
    for (;;) {
      if (!this.#headers) {
        if (!this.#readHeaders()) break;
        continue;
      }
      const part = this.#readBody();
      if (!part) break;
      parts.push(part);
    }
    if (this.#buf.length > this.#max + 4096) {
      throw new Error(`a multipart part exceeds ${this.#max} bytes or has no delimiter`);
    }
    return parts;
  }

  /** Finds the next delimiter line and the header block after it; false when more bytes are needed. */
  #readHeaders(): boolean {
    const found = this.#findDelimiter(0);
    if (!found) {
      // keep a tail long enough to hold a delimiter split across chunks
      const keep = Math.max(...this.#delimiters.map((d) => d.length)) + 2;
      if (this.#buf.length > keep) this.#buf = this.#buf.subarray(this.#buf.length - keep);
      return false;
    }
    const end = this.#buf.indexOf(crlfcrlf, found.at + found.delimiter.length);
    if (end < 0) return false;
    const lines = this.#buf
      .subarray(found.at + found.delimiter.length, end)
      .toString("latin1")
      .split(/\r?\n/);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.#delimiter = found.delimiter;
    this.#headers = headers;
    const length = Number(headers["content-length"]);
    this.#length = Number.isInteger(length) && length >= 0 ? length : undefined;
    if (this.#length !== undefined && this.#length > this.#max) {
      throw new Error(`a multipart part declares ${this.#length} bytes, over the ${this.#max} byte limit`);
    }
    this.#buf = this.#buf.subarray(end + crlfcrlf.length);
    this.#searchFrom = 0;
    return true;
  }

  #readBody(): MultipartPart | undefined {
    const headers = this.#headers as Record<string, string>;
    let body: Buffer;
    if (this.#length !== undefined) {
      if (this.#buf.length < this.#length) return undefined;
      body = Buffer.from(this.#buf.subarray(0, this.#length));
      this.#buf = this.#buf.subarray(this.#length);
    } else {
      const delimiter = this.#delimiter as Buffer;
      const at = this.#buf.indexOf(delimiter, this.#searchFrom);
      if (at < 0) {
        this.#searchFrom = Math.max(0, this.#buf.length - delimiter.length);
        return undefined;
      }
      let end = at;
      if (this.#buf[end - 1] === 0x0a) end--;
      if (this.#buf[end - 1] === 0x0d) end--;
      body = Buffer.from(this.#buf.subarray(0, end));
      this.#buf = this.#buf.subarray(at);
    }
    this.#headers = undefined;
    this.#length = undefined;
    this.#searchFrom = 0;
    return { headers, body };
  }

  #findDelimiter(from: number): { at: number; delimiter: Buffer } | undefined {
    if (this.#delimiter) {
      const at = this.#buf.indexOf(this.#delimiter, from);
      return at < 0 ? undefined : { at, delimiter: this.#delimiter };
    }
    let best: { at: number; delimiter: Buffer } | undefined;
    for (const delimiter of this.#delimiters) {
      const at = this.#buf.indexOf(delimiter, from);
      if (at >= 0 && (!best || at < best.at)) best = { at, delimiter };
    }
    return best;
  }
}
