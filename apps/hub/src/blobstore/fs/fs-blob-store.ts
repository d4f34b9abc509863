import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline, Readable } from "node:stream";
import { KensaError } from "@kensa/contracts";
import { blobCorrupt, CorruptListeners, sha256Hex, VERIFY_WHOLE_BYTES, VerifyingStream } from "../blob-integrity.js";
import {
  type BlobInfo,
  type BlobStore,
  type BlobVerdict,
  type ByteRange,
  type CorruptionSource,
  type CorruptListener,
  isSha256,
  type ListedBlob,
  type QuarantinedBlob,
} from "../blob-store.js";

/**
 * Blobs as files at `<root>/sha256/<first 2 hex>/<sha256>`. Written to a temp file in the
 * same directory tree, fsynced, then renamed, so a crash leaves either nothing or the whole blob.
 * A blob found corrupt is renamed to `<root>/quarantine/<sha256>.<ms since epoch>`.
 */
export class FsBlobStore implements BlobStore {
  readonly supportsLocalPaths = true;
  #root: string;
  #corrupt = new CorruptListeners();
  /** blobs verified whole: sha256 → the file's identity then (inode, mtime, size) */
  #verified = new Map<string, string>();

  /** `root` is the blobs directory, e.g. `<dataDir>/blobs` */
  constructor(root: string) {
    this.#root = root;
  }

  path(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.#root, "sha256", sha256.slice(0, 2), sha256);
  }

  onCorrupt(listener: CorruptListener): () => void {
    return this.#corrupt.add(listener);
  }

  async put(
    content: Uint8Array | AsyncIterable<Uint8Array>,
    opts: { expectedSha256?: string } = {},
  ): Promise<BlobInfo> {
    const tmpDir = join(this.#root, "tmp");
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const fh = await open(tmp, "wx", 0o640);
    try {
      const chunks = content instanceof Uint8Array ? [content] : content;
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.byteLength;
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
          off += bytesWritten;
        }
      }
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const sha256 = hash.digest("hex");
    if (opts.expectedSha256 !== undefined && opts.expectedSha256 !== sha256) {
      await rm(tmp, { force: true });
      throw new KensaError(
        "KENSA_ERR_BLOB_DIGEST_MISMATCH",
        `the content hashes to ${sha256}, not ${opts.expectedSha256}; nothing was stored`,
        { expected: opts.expectedSha256, actual: sha256 },
      );
    }
    const dest = this.path(sha256);
    // a name already here is kept only when its content still matches: a corrupt one is
    // quarantined and replaced by this upload (the repair a device's retry performs)
    const present = await this.#check(sha256, { trustRemembered: true });
    if (present === "ok") {
      await rm(tmp, { force: true });
      return { sha256, size };
    }
    if (present === "corrupt") await this.quarantine(sha256, "put");
    await mkdir(join(this.#root, "sha256", sha256.slice(0, 2)), { recursive: true });
    await rename(tmp, dest);
    await syncDir(join(this.#root, "sha256", sha256.slice(0, 2)));
    return { sha256, size };
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    if (!isSha256(sha256)) return null;
    const bytes = await readFile(this.path(sha256)).catch(absentAsNull);
    if (!bytes) return null;
    if (sha256Hex(bytes) !== sha256) throw await this.#corruptFound(sha256, "read");
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async stream(sha256: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | null> {
    if (!isSha256(sha256)) return null;
    const file = this.path(sha256);
    // Open first so a missing blob is a null, not a stream that errors later.
    const fh = await open(file, "r").catch(absentAsNull);
    if (!fh) return null;
    const { size } = await fh.stat();
    if (range) {
      if ((await this.#hashOpen(sha256, fh, { trustRemembered: true })) !== "ok") {
        await fh.close();
        throw await this.#corruptFound(sha256, "read");
      }
      return {
        stream: fh.createReadStream({ start: range.start, end: range.end, highWaterMark: STREAM_CHUNK_BYTES }),
        size,
      };
    }
    if (size <= VERIFY_WHOLE_BYTES) {
      let bytes: Buffer;
      try {
        bytes = await fh.readFile();
      } finally {
        await fh.close();
      }
      if (sha256Hex(bytes) !== sha256) throw await this.#corruptFound(sha256, "read");
      return { stream: Readable.from(bytes.byteLength ? [bytes] : [], { objectMode: false }), size };
    }
    const verifier = new VerifyingStream(sha256, () => this.#corruptFound(sha256, "read"));
    pipeline(fh.createReadStream({ highWaterMark: STREAM_CHUNK_BYTES }), verifier, () => {});
    return { stream: verifier, size };
  }

  async has(sha256: string): Promise<boolean> {
    return isSha256(sha256) && exists(this.path(sha256));
  }

  async verify(sha256: string, opts: { via?: CorruptionSource; quarantine?: boolean } = {}): Promise<BlobVerdict> {
    const verdict = await this.#check(sha256);
    if (verdict === "corrupt" && opts.quarantine !== false) await this.quarantine(sha256, opts.via ?? "scrub");
    return verdict;
  }

  async *list(opts: { after?: string } = {}): AsyncIterable<ListedBlob> {
    const base = join(this.#root, "sha256");
    const prefixes = ((await readdir(base).catch(absentAsNull)) ?? []).filter((p) => /^[a-f0-9]{2}$/.test(p)).sort();
    for (const prefix of prefixes) {
      if (opts.after && prefix < opts.after.slice(0, 2)) continue;
      const names = ((await readdir(join(base, prefix)).catch(absentAsNull)) ?? []).filter(isSha256).sort();
      for (const sha256 of names) {
        if (opts.after && sha256 <= opts.after) continue;
        const st = await stat(join(base, prefix, sha256)).catch(absentAsNull);
        if (st) yield { sha256, size: st.size, storedAt: st.mtime.toISOString() };
      }
    }
  }

  async quarantine(sha256: string, via: CorruptionSource): Promise<boolean> {
    if (!isSha256(sha256)) return false;
    const dir = join(this.#root, "quarantine");
    await mkdir(dir, { recursive: true });
    this.#verified.delete(sha256);
    const size = (await stat(this.path(sha256)).catch(absentAsNull))?.size;
    if (size === undefined) return false;
    try {
      await rename(this.path(sha256), join(dir, `${sha256}.${Date.now()}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    await syncDir(join(this.#root, "sha256", sha256.slice(0, 2)));
    this.#corrupt.emit({ sha256, size, via });
    return true;
  }

  async *quarantined(): AsyncIterable<QuarantinedBlob> {
    const dir = join(this.#root, "quarantine");
    const entries = ((await readdir(dir).catch(absentAsNull)) ?? [])
      .map((name) => /^([a-f0-9]{64})\.(\d+)$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[2]) - Number(b[2]));
    for (const m of entries) {
      const st = await stat(join(dir, m[0])).catch(absentAsNull);
      if (st) yield { sha256: m[1]!, size: st.size, at: new Date(Number(m[2])).toISOString() };
    }
  }

  async delete(sha256: string): Promise<boolean> {
    if (!isSha256(sha256)) return false;
    try {
      await rm(this.path(sha256));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /**
   * Hashes the stored content without moving it. `trustRemembered` skips the hash of a file
   * verified before and unchanged since (same inode, mtime and size): ranged reads and re-puts
   * of the same content take that shortcut; the scrub and corruption checks never do, as bit rot
   * changes none of the three.
   */
  async #check(sha256: string, opts: { trustRemembered?: boolean } = {}): Promise<BlobVerdict> {
    if (!isSha256(sha256)) return "missing";
    const fh = await open(this.path(sha256), "r").catch(absentAsNull);
    if (!fh) return "missing";
    try {
      return await this.#hashOpen(sha256, fh, opts);
    } finally {
      await fh.close();
    }
  }

  /** The verdict on an open blob file (left open); an "ok" is remembered by the file's identity. */
  async #hashOpen(sha256: string, fh: FileHandle, opts: { trustRemembered?: boolean }): Promise<BlobVerdict> {
    const st = await fh.stat();
    const identity = `${st.ino}:${st.mtimeMs}:${st.size}`;
    if (opts.trustRemembered && this.#verified.get(sha256) === identity) return "ok";
    const hash = createHash("sha256");
    for await (const chunk of fh.createReadStream({ autoClose: false, start: 0, highWaterMark: STREAM_CHUNK_BYTES }))
      hash.update(chunk as Buffer);
    if (hash.digest("hex") !== sha256) {
      this.#verified.delete(sha256);
      return "corrupt";
    }
    this.#verified.delete(sha256);
    this.#verified.set(sha256, identity);
    if (this.#verified.size > VERIFIED_REMEMBERED) this.#verified.delete(this.#verified.keys().next().value!);
    return "ok";
  }

  /**
   * Quarantines a blob a reader found corrupt. Checked again first: a put may have repaired
   * the address since the reader opened it, and good content must never be moved aside.
   */
  async #corruptFound(sha256: string, via: CorruptionSource): Promise<KensaError> {
    if ((await this.#check(sha256)) === "corrupt") await this.quarantine(sha256, via);
    return blobCorrupt(sha256, via);
  }
}

/**
 * bytes read from a blob file at a time: serving a model to many devices costs ~40 % less CPU
 * per byte than with Node's 64 KiB chunks, and one download still holds at most this much
 */
const STREAM_CHUNK_BYTES = 256 * 1024;

/** blobs remembered as verified (the least recently verified is forgotten first) */
const VERIFIED_REMEMBERED = 10_000;

function absentAsNull(err: NodeJS.ErrnoException): null {
  if (err.code === "ENOENT") return null;
  throw err;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Makes the rename itself durable; not every platform allows fsync on a directory. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort (e.g. Windows)
  }
}
