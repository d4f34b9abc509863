import type { FileHandle } from "node:fs/promises";
import { KensaError } from "@kensa/contracts";
import { type ArchiveEntry, type EntryKind, MAX_ENTRY_BYTES } from "./archive-entry.js";
import { checkEntryPath } from "./safe-path.js";

const BLOCK = 512;

/**
 * Lists a tar file's entries (ustar, pax and GNU long names) without reading their data. A
 * truncated archive keeps the entries whose data is complete; the cut one fails on read.
 */
export async function readTarEntries(fh: FileHandle, fileSize: number): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let sawHeader = false;
  while (pos + BLOCK <= fileSize) {
    await readExactly(fh, header, pos);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) {
      if (!sawHeader) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "not a tar archive (bad header checksum)");
      throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", `corrupt tar header at byte ${pos}`);
    }
    sawHeader = true;
    const size = parseNumber(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    const dataPos = pos + BLOCK;
    pos = dataPos + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L" || type === "x") {
      const data = Buffer.alloc(Math.min(size, 1 << 20));
      await readExactly(fh, data, dataPos).catch(() => {
        throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "the tar archive is truncated");
      });
      if (type === "L") longName = cString(data);
      else paxPath = parsePax(data).path ?? paxPath;
      continue;
    }
    if (type === "g" || type === "K") continue;
    const name = paxPath ?? longName ?? ustarName(header);
    paxPath = null;
    longName = null;
    const kind: EntryKind =
      type === "0" || type === "\0" || type === "7"
        ? "file"
        : type === "5"
          ? "dir"
          : type === "2"
            ? "symlink"
            : type === "1"
              ? "hardlink"
              : "other";
    entries.push(makeEntry(fh, fileSize, name, kind, size, dataPos));
  }
  if (!sawHeader) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "the tar archive has no entries");
  return entries;
}

function makeEntry(
  fh: FileHandle,
  fileSize: number,
  raw: string,
  kind: EntryKind,
  size: number,
  dataPos: number,
): ArchiveEntry {
  const checked = checkEntryPath(raw);
  const entry: ArchiveEntry = {
    path: checked.ok ? checked.path : raw,
    kind,
    size,
    read: async () => {
      if (size > MAX_ENTRY_BYTES) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", `${raw}: entry too large`);
      if (dataPos + size > fileSize) {
        throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", `${raw}: the entry is cut off (truncated archive)`);
      }
      const buf = Buffer.alloc(size);
      await readExactly(fh, buf, dataPos);
      return buf;
    },
  };
  if (!checked.ok) entry.problem = { code: checked.code, message: checked.message };
  else if (kind === "symlink" || kind === "hardlink" || kind === "other") {
    entry.problem = {
      code: "KENSA_ERR_DATASET_LINK",
      message: `"${raw}" is a ${kind === "other" ? "special file" : kind.replace("link", " link")}; links are not followed`,
    };
  }
  return entry;
}

async function readExactly(fh: FileHandle, buf: Buffer, pos: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, pos + off);
    if (bytesRead === 0) throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "unexpected end of archive");
    off += bytesRead;
  }
}

function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
  return sum === stored;
}

/** Octal text, or GNU base-256 when the high bit of the first byte is set. */
function parseNumber(field: Buffer): number {
  if ((field[0] ?? 0) & 0x80) {
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + (field[i] ?? 0);
    return v;
  }
  const s = cString(field).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

function ustarName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  const isUstar = h.subarray(257, 262).toString("latin1") === "ustar";
  const prefix = isUstar ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** pax records are `<byte length> key=value\n`; lengths count bytes, not characters */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number.parseInt(data.subarray(i, sp).toString("latin1"), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}
