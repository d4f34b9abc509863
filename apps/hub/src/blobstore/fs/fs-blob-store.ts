import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { type BlobInfo, type BlobStore, type ByteRange, isSha256 } from "../blob-store.js";

/**
 * Blobs as files at `<root>/sha256/<first 2 hex>/<sha256>`. Written to a temp file in the
 * same directory tree, fsynced, then renamed, so a crash leaves either nothing or the whole blob.
 */
export class FsBlobStore implements BlobStore {
  readonly supportsLocalPaths = true;
  #root: string;

  /** `root` is the blobs directory, e.g. `<dataDir>/blobs` */
  constructor(root: string) {
    this.#root = root;
  }

  path(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.#root, "sha256", sha256.slice(0, 2), sha256);
  }

  async put(content: Uint8Array | AsyncIterable<Uint8Array>): Promise<BlobInfo> {
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
    const dest = this.path(sha256);
    if (await exists(dest)) {
      await rm(tmp, { force: true });
      return { sha256, size };
    }
    await mkdir(join(this.#root, "sha256", sha256.slice(0, 2)), { recursive: true });
    await rename(tmp, dest);
    await syncDir(join(this.#root, "sha256", sha256.slice(0, 2)));
    return { sha256, size };
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    const s = await this.stream(sha256);
    if (!s) return null;
    const chunks: Buffer[] = [];
    for await (const c of s.stream) chunks.push(c as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  async stream(sha256: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | null> {
    if (!isSha256(sha256)) return null;
    const file = this.path(sha256);
    // Open first so a missing blob is a null, not a stream that errors later.
    const fh = await open(file, "r").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    if (!fh) return null;
    const { size } = await fh.stat();
    return { stream: fh.createReadStream(range ? { start: range.start, end: range.end } : {}), size };
  }

  async has(sha256: string): Promise<boolean> {
    return isSha256(sha256) && exists(this.path(sha256));
  }
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
