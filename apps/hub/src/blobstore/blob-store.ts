import type { Readable } from "node:stream";

export interface BlobInfo {
  /** lower-case hex sha256 of the content, which is also its address */
  sha256: string;
  /** bytes */
  size: number;
}

/**
 * Content-addressed bytes (models, bundles, media). Putting the same content twice stores it
 * once. A put is all-or-nothing: a reader never sees a partial blob under its address.
 */
export interface BlobStore {
  put(content: Uint8Array | AsyncIterable<Uint8Array>): Promise<BlobInfo>;
  /** the whole blob, or null when absent */
  get(sha256: string): Promise<Uint8Array | null>;
  /**
   * a stream of the blob with its whole size, or null when absent; `range` (inclusive byte
   * offsets, already checked against the size) streams only that part (video seeking)
   */
  stream(sha256: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | null>;
  has(sha256: string): Promise<boolean>;
  /** true when blobs live as local files that `path()` can name (lets callers hand out paths) */
  readonly supportsLocalPaths: boolean;
  /** the local file of a blob, for stores where `supportsLocalPaths` */
  path?(sha256: string): string;
}

/** Inclusive byte offsets, as in an HTTP Range header. */
export interface ByteRange {
  start: number;
  end: number;
}

const SHA256_RE = /^[a-f0-9]{64}$/;

export function isSha256(s: string): boolean {
  return SHA256_RE.test(s);
}
