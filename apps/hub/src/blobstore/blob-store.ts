import type { Readable } from "node:stream";

export interface BlobInfo {
  /** lower-case hex sha256 of the content, which is also its address */
  sha256: string;
  /** bytes */
  size: number;
}

/** A stored blob as a listing names it. */
export interface ListedBlob extends BlobInfo {
  /** ISO time its content was last written */
  storedAt: string;
}

/** A blob whose content did not hash to its address, moved aside so it is never served. */
export interface QuarantinedBlob {
  /** the address the content was stored under */
  sha256: string;
  /** bytes of the content found */
  size: number;
  /** ISO time it was quarantined */
  at: string;
}

/** What a whole-blob check found: the content matches its address, does not, or is absent. */
export type BlobVerdict = "ok" | "corrupt" | "missing";

/** Where a mismatch was found (counted and logged by the listener). */
export type CorruptionSource = "read" | "scrub" | "put" | "fsck";

/** Told of every blob found corrupt, after it was quarantined. */
export type CorruptListener = (e: { sha256: string; size: number; via: CorruptionSource }) => void;

/**
 * Content-addressed bytes (models, bundles, media). Putting the same content twice stores it
 * once. A put is all-or-nothing: a reader never sees a partial blob under its address.
 *
 * Integrity: content is never served as good unless it hashes to its address. `get` and a
 * small `stream` verify the whole blob before returning it; a large `stream` hashes as it goes
 * and withholds its last chunk until the hash matches, so a mismatch errors the stream (an HTTP
 * response is aborted, not completed). A mismatch throws or errors with KENSA_ERR_BLOB_CORRUPT
 * and quarantines the blob: afterwards the address is absent, and a put of the right content
 * stores it again (repair). A ranged `stream` (video seeking) verifies the whole blob before
 * serving a part of it; an adapter may remember that an unchanged blob passed (a browser seeks
 * a clip many times), leaving later changes to the scrub.
 */
export interface BlobStore {
  /**
   * Stores content under its sha256. With `expectedSha256`, content hashing to anything else is
   * refused (KENSA_ERR_BLOB_DIGEST_MISMATCH) and nothing is stored. When the address already
   * holds content that does not match it (or nothing), this content replaces it.
   */
  put(content: Uint8Array | AsyncIterable<Uint8Array>, opts?: { expectedSha256?: string }): Promise<BlobInfo>;
  /** the whole blob, verified, or null when absent; throws KENSA_ERR_BLOB_CORRUPT */
  get(sha256: string): Promise<Uint8Array | null>;
  /**
   * a stream of the blob with its whole size, or null when absent; `range` (inclusive byte
   * offsets, already checked against the size) streams only that part (video seeking).
   * Rejects with KENSA_ERR_BLOB_CORRUPT when a small blob fails its check before streaming;
   * a large one's stream errors with it instead.
   */
  stream(sha256: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | null>;
  has(sha256: string): Promise<boolean>;
  /** hashes the whole blob; quarantines it when corrupt unless `quarantine` is false (a report) */
  verify(sha256: string, opts?: { via?: CorruptionSource; quarantine?: boolean }): Promise<BlobVerdict>;
  /** every stored address with the size of its content, in address order (after `after`) */
  list(opts?: { after?: string }): AsyncIterable<ListedBlob>;
  /** moves the content under `sha256` aside; the address is absent afterwards; false when absent */
  quarantine(sha256: string, via: CorruptionSource): Promise<boolean>;
  /** what has been quarantined, oldest first */
  quarantined(): AsyncIterable<QuarantinedBlob>;
  /** removes a blob (an orphan nothing references); false when absent */
  delete(sha256: string): Promise<boolean>;
  /** listens for blobs found corrupt (counters, logs); returns the way to stop listening */
  onCorrupt(listener: CorruptListener): () => void;
  /** true when blobs live as local files that `path()` can name (lets callers hand out paths) */
  readonly supportsLocalPaths: boolean;
  /** the local file of a blob, for stores where `supportsLocalPaths` */
  path?(sha256: string): string;
  /**
   * A short-lived URL a plain HTTP GET fetches the blob from, straight from storage (an S3
   * presigned URL), for stores configured to hand them out; null when the blob is absent. The
   * blob is verified (or known verified and unchanged) before a URL is made, and a corrupt one
   * is quarantined and refused with KENSA_ERR_BLOB_CORRUPT as a read would be.
   */
  presignGet?(sha256: string, ttlSeconds?: number): Promise<string | null>;
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
