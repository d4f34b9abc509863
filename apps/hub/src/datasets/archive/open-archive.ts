import { createReadStream, createWriteStream } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { KensaError } from "@kensa/contracts";
import { checkCompressionRatio } from "../../limits/archive-limits.js";
import { countRefusal } from "../../limits/limit-refusals.js";
import { ARCHIVE_LIMITS, type ArchiveEntry, type ArchiveLimits } from "./archive-entry.js";
import { readTarEntries } from "./tar-reader.js";
import { readZipEntries } from "./zip-reader.js";

export interface OpenedArchive {
  type: "zip" | "tar";
  entries: ArchiveEntry[];
  close(): Promise<void>;
}

/**
 * Opens an archive file by its content (not its name): zip, tar, or gzip-compressed tar,
 * which is inflated to `<file>.tar` first (at most `limits.totalBytes`) because tar entries
 * are read by offset.
 */
export async function openArchive(file: string, limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<OpenedArchive> {
  let path = file;
  let extra: string | null = null;
  let head = await firstBytes(file);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    extra = `${file}.tar`;
    await gunzip(file, extra, limits);
    path = extra;
    head = await firstBytes(path);
  }
  const removeExtra = async () => {
    if (extra) await rm(extra, { force: true });
  };
  try {
    const magic = head.readUInt32LE(0);
    const isZip = magic === 0x04034b50 || magic === 0x06054b50;
    const opened = isZip ? await readZipEntries(path, limits) : await readTarEntries(path, limits);
    return {
      type: isZip ? "zip" : "tar",
      entries: opened.entries,
      close: async () => {
        await opened.close().catch(() => {});
        await removeExtra();
      },
    };
  } catch (err) {
    await removeExtra();
    throw err;
  }
}

async function firstBytes(file: string): Promise<Buffer> {
  const head = Buffer.alloc(4);
  const fh = await open(file, "r");
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  return head;
}

/**
 * Inflates `from` into `to`, stopping as soon as it passes `totalBytes` or the compression
 * ratio `entryRatio` (a gzip bomb).
 */
async function gunzip(from: string, to: string, limits: ArchiveLimits): Promise<void> {
  const maxBytes = limits.totalBytes;
  const compressed = (await stat(from)).size;
  let size = 0;
  try {
    await pipeline(
      createReadStream(from),
      createGunzip(),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          checkCompressionRatio("the gzip data", compressed, size, limits.entryRatio);
          if (size > maxBytes) {
            countRefusal("archive_unpacked_bytes");
            throw new KensaError("KENSA_ERR_UPLOAD_TOO_LARGE", `the gzip data inflates to more than ${maxBytes} bytes`);
          }
          yield chunk;
        }
      },
      createWriteStream(to),
    );
  } catch (err) {
    await rm(to, { force: true });
    if (err instanceof KensaError) throw err;
    throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", `the gzip data is corrupt: ${(err as Error).message}`);
  }
}
