import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { KensaError } from "@kensa/contracts";
import type { CorruptionSource, CorruptListener } from "./blob-store.js";

/**
 * bytes; blobs up to this size are read whole and checked before the first byte is served
 * (frames, masks, thumbnails), larger ones (clips, models) are hashed as they stream
 */
export const VERIFY_WHOLE_BYTES = 4 * 1024 * 1024;

/** The error a corrupt blob is answered with (HTTP 500; the blob is quarantined by then). */
export function blobCorrupt(sha256: string, via: CorruptionSource): KensaError {
  return new KensaError(
    "KENSA_ERR_BLOB_CORRUPT",
    `blob ${sha256} does not match its sha256 (found on ${via}); it was quarantined`,
    { sha256, via },
  );
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Passes a blob's bytes through while hashing them, holding back the last chunk: only when the
 * whole content hashes to `expected` is that chunk released and the stream ended. On a mismatch
 * `onMismatch` runs (quarantine) and the stream errors instead, so a reader (an HTTP response
 * with a Content-Length) never receives the complete body of a corrupt blob.
 */
export class VerifyingStream extends Transform {
  readonly #expected: string;
  readonly #hash = createHash("sha256");
  readonly #onMismatch: () => Promise<KensaError>;
  #held: Buffer | null = null;

  constructor(expected: string, onMismatch: () => Promise<KensaError>) {
    super();
    this.#expected = expected;
    this.#onMismatch = onMismatch;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    const previous = this.#held;
    this.#held = chunk;
    if (previous) this.push(previous);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#hash.digest("hex") === this.#expected) {
      if (this.#held) this.push(this.#held);
      this.#held = null;
      done();
      return;
    }
    this.#held = null;
    this.#onMismatch().then(
      (err) => done(err),
      (err: unknown) => done(err as Error),
    );
  }
}

/** The listeners a store tells of corrupt blobs; a listener that throws never breaks a read. */
export class CorruptListeners {
  readonly #listeners = new Set<CorruptListener>();

  add(listener: CorruptListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(e: Parameters<CorruptListener>[0]): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // counters and logs must not turn a quarantine into a failed read
      }
    }
  }
}
