import { createReadStream, createWriteStream } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { KensaError } from "@kensa/contracts";
import type { ArchiveEntry } from "./archive-entry.js";
import { readTarEntries } from "./tar-reader.js";
import { readZipEntries } from "./zip-reader.js";

export interface OpenedArchive {
  type: "zip" | "tar";
  entries: ArchiveEntry[];
  close(): Promise<void>;
}

/**
 * Opens an archive file by its content (not its name): zip, tar, or gzip-compressed tar,
 * which is inflated to `<file>.tar` first because tar entries are read by offset.
 */
export async function openArchive(file: string): Promise<OpenedArchive> {
  const head = Buffer.alloc(512);
  let path = file;
  let extra: string | null = null;
  {
    const fh = await open(file, "r");
    try {
      await fh.read(head, 0, 512, 0);
    } finally {
      await fh.close();
    }
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    extra = `${file}.tar`;
    try {
      await pipeline(createReadStream(file), createGunzip(), createWriteStream(extra));
    } catch (err) {
      await rm(extra, { force: true });
      throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", `the gzip data is corrupt: ${(err as Error).message}`);
    }
    path = extra;
  }
  const fh = await open(path, "r");
  const close = async () => {
    await fh.close().catch(() => {});
    if (extra) await rm(extra, { force: true });
  };
  try {
    const size = (await stat(path)).size;
    const first = Buffer.alloc(4);
    await fh.read(first, 0, 4, 0);
    const isZip = first.readUInt32LE(0) === 0x04034b50 || first.readUInt32LE(0) === 0x06054b50;
    const entries = isZip ? await readZipEntries(fh, size) : await readTarEntries(fh, size);
    return { type: isZip ? "zip" : "tar", entries, close };
  } catch (err) {
    await close();
    throw err;
  }
}
