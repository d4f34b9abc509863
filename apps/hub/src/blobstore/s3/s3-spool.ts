import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";

/**
 * Content read once, hashed, and kept until it is uploaded: an object's key is its sha256, which
 * is known only after the last byte, and a source that fails midway must leave nothing in the
 * bucket. Up to `memoryBytes` stays in memory; beyond that it goes to a file in `dir`.
 */
export interface Spooled {
  sha256: string;
  size: number;
  /** the whole content when it stayed in memory */
  bytes: Buffer | null;
  /** a fresh stream of the content (from memory or the spool file) */
  open(): Readable | Buffer;
  /** removes the spool file, if any */
  dispose(): Promise<void>;
}

export async function spool(
  content: Uint8Array | AsyncIterable<Uint8Array>,
  o: { dir: string; memoryBytes: number },
): Promise<Spooled> {
  if (content instanceof Uint8Array) {
    const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    return inMemory(bytes, createHash("sha256").update(bytes).digest("hex"));
  }
  const hash = createHash("sha256");
  const held: Buffer[] = [];
  let size = 0;
  let file: { path: string; fh: Awaited<ReturnType<typeof open>> } | null = null;
  try {
    for await (const chunk of content) {
      hash.update(chunk);
      size += chunk.byteLength;
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (!file && size <= o.memoryBytes) {
        // copied: the source may reuse its buffer for the next chunk
        held.push(Buffer.from(buf));
        continue;
      }
      if (!file) {
        await mkdir(o.dir, { recursive: true });
        const path = join(o.dir, `${Date.now()}-${randomBytes(8).toString("hex")}`);
        file = { path, fh: await open(path, "wx", 0o600) };
        for (const h of held.splice(0)) await writeAll(file.fh, h);
      }
      await writeAll(file.fh, buf);
    }
  } catch (err) {
    if (file) {
      await file.fh.close().catch(() => {});
      await rm(file.path, { force: true });
    }
    throw err;
  }
  const sha256 = hash.digest("hex");
  if (!file) return inMemory(Buffer.concat(held), sha256);
  await file.fh.close();
  const path = file.path;
  return {
    sha256,
    size,
    bytes: null,
    open: () => createReadStream(path),
    dispose: () => rm(path, { force: true }),
  };
}

function inMemory(bytes: Buffer, sha256: string): Spooled {
  return { sha256, size: bytes.byteLength, bytes, open: () => bytes, dispose: async () => {} };
}

async function writeAll(fh: Awaited<ReturnType<typeof open>>, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}
