import type { FileHandle } from "node:fs/promises";
import { crc32, inflateRawSync } from "node:zlib";
import { KensaError } from "@kensa/contracts";
import { type ArchiveEntry, type EntryKind, MAX_ENTRY_BYTES } from "./archive-entry.js";
import { checkEntryPath } from "./safe-path.js";

const EOCD = 0x06054b50;
const CDH = 0x02014b50;
const LFH = 0x04034b50;
const Z64_LOCATOR = 0x07064b50;
const Z64_EOCD = 0x06064b50;
const S_IFMT = 0o170000;

/**
 * Lists a zip file's entries from its central directory (zip64 included). Data is read and
 * CRC-checked per entry on demand; a corrupt entry fails alone.
 */
export async function readZipEntries(fh: FileHandle, fileSize: number): Promise<ArchiveEntry[]> {
  const tailLen = Math.min(fileSize, 22 + 65535 + 20);
  const tail = await readAt(fh, fileSize - tailLen, tailLen);
  let e = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      e = i;
      break;
    }
  }
  if (e < 0) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "not a zip archive (no end of central directory)");
  let count = tail.readUInt16LE(e + 10);
  let cdSize = tail.readUInt32LE(e + 12);
  let cdOffset = tail.readUInt32LE(e + 16);
  if (e >= 20 && tail.readUInt32LE(e - 20) === Z64_LOCATOR) {
    const z64 = await readAt(fh, Number(tail.readBigUInt64LE(e - 20 + 8)), 56);
    if (z64.readUInt32LE(0) !== Z64_EOCD) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "corrupt zip64 record");
    count = Number(z64.readBigUInt64LE(32));
    cdSize = Number(z64.readBigUInt64LE(40));
    cdOffset = Number(z64.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > fileSize) {
    throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "the zip archive is truncated (central directory out of range)");
  }
  const cd = await readAt(fh, cdOffset, cdSize);
  const entries: ArchiveEntry[] = [];
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CDH) {
      throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "corrupt zip central directory");
    }
    const madeBy = cd.readUInt16LE(p + 4);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const attrs = cd.readUInt32LE(p + 38);
    let offset = cd.readUInt32LE(p + 42);
    const raw = cd.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    p += 46 + nameLen + extraLen + commentLen;
    // zip64 extra field: 64-bit values for exactly the fields that are 0xFFFFFFFF, in order
    for (let x = 0; x + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(x);
      const len = extra.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let q = x + 4;
        if (size === 0xffffffff) {
          size = Number(extra.readBigUInt64LE(q));
          q += 8;
        }
        if (compSize === 0xffffffff) {
          compSize = Number(extra.readBigUInt64LE(q));
          q += 8;
        }
        if (offset === 0xffffffff) offset = Number(extra.readBigUInt64LE(q));
      }
      x += 4 + len;
    }
    const unixType = madeBy >> 8 === 3 ? (attrs >>> 16) & S_IFMT : 0;
    const kind: EntryKind = raw.endsWith("/")
      ? "dir"
      : unixType === 0o120000
        ? "symlink"
        : unixType !== 0 && unixType !== 0o100000 && unixType !== 0o040000
          ? "other"
          : unixType === 0o040000
            ? "dir"
            : "file";
    const checked = checkEntryPath(raw);
    const entry: ArchiveEntry = {
      path: checked.ok ? checked.path : raw,
      kind,
      size,
      read: () => readData(fh, fileSize, raw, { method, flags, crc, compSize, size, offset }),
    };
    if (!checked.ok) entry.problem = { code: checked.code, message: checked.message };
    else if (kind === "symlink" || kind === "other") {
      entry.problem = {
        code: "KENSA_ERR_DATASET_LINK",
        message: `"${raw}" is a ${kind === "symlink" ? "symbolic link" : "special file"}; links are not followed`,
      };
    } else if (kind === "file" && flags & 1) {
      entry.problem = { code: "KENSA_ERR_ARCHIVE_INVALID", message: `"${raw}" is encrypted` };
    } else if (kind === "file" && method !== 0 && method !== 8) {
      entry.problem = {
        code: "KENSA_ERR_ARCHIVE_INVALID",
        message: `"${raw}" uses compression method ${method}; only stored and deflate are supported`,
      };
    }
    entries.push(entry);
  }
  return entries;
}

async function readData(
  fh: FileHandle,
  fileSize: number,
  raw: string,
  z: { method: number; flags: number; crc: number; compSize: number; size: number; offset: number },
): Promise<Buffer> {
  const bad = (why: string) => new KensaError("KENSA_ERR_ARCHIVE_INVALID", `${raw}: ${why}`);
  if (z.size > MAX_ENTRY_BYTES) throw bad("entry too large");
  if (z.offset + 30 > fileSize) throw bad("the entry is cut off (truncated archive)");
  const lh = await readAt(fh, z.offset, 30);
  if (lh.readUInt32LE(0) !== LFH) throw bad("corrupt local header");
  const start = z.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
  if (start + z.compSize > fileSize) throw bad("the entry is cut off (truncated archive)");
  const comp = await readAt(fh, start, z.compSize);
  let data: Buffer;
  try {
    data = z.method === 0 ? comp : inflateRawSync(comp, { maxOutputLength: Math.max(z.size, 1) });
  } catch (err) {
    throw bad(`cannot inflate: ${(err as Error).message}`);
  }
  if (data.length !== z.size || crc32(data) !== z.crc) throw bad("CRC or size mismatch (corrupt entry)");
  return data;
}

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(buf, off, len - off, pos + off);
    if (bytesRead === 0) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "unexpected end of archive");
    off += bytesRead;
  }
  return buf;
}
