import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { KensaError } from "@kensa/contracts";
import { extract, type Header } from "tar-stream";
import { countRefusal } from "../../limits/limit-refusals.js";
import type { ArchiveEntry, ArchiveLimits, EntryKind } from "./archive-entry.js";
import { checkEntryPath } from "./safe-path.js";

const BLOCK = 512;

interface Listed {
  name: string;
  kind: EntryKind;
  size: number;
  /** where the entry's data starts in the file */
  dataPos: number;
}

/**
 * Lists a tar file's entries with tar-stream (ustar, pax, GNU long names, base-256 sizes) in
 * one sequential pass, remembering where each entry's data starts so it can be read later
 * without holding it. A truncated archive keeps the entries whose data is complete; the cut
 * one fails on read.
 */
export async function readTarEntries(
  path: string,
  limits: ArchiveLimits,
): Promise<{ entries: ArchiveEntry[]; close(): Promise<void> }> {
  const fh = await open(path, "r");
  try {
    const fileSize = (await fh.stat()).size;
    const listed = await list(path, fileSize, fh, limits);
    if (listed.length === 0) throw invalid("the tar archive has no entries");
    const entries = listed.map((e) => toEntry(fh, fileSize, e, limits.entryBytes));
    return { entries, close: () => fh.close() };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function list(path: string, fileSize: number, fh: FileHandle, limits: ArchiveLimits): Promise<Listed[]> {
  const listed: Listed[] = [];
  let total = 0;
  // v7 tars (no ustar magic) are still tars; a bad checksum is what tells junk apart. The
  // option is tar-stream's own, missing from its typings.
  const tar = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
  const input = createReadStream(path);
  input.on("error", (err) => tar.destroy(err));
  input.pipe(tar);
  try {
    for await (const entry of tar) {
      const h = entry.header;
      total += h.size;
      if (listed.length === limits.entries) {
        countRefusal("archive_entries");
        throw new KensaError("KENSA_ERR_UPLOAD_TOO_LARGE", `the tar archive holds more than ${limits.entries} entries`);
      }
      if (total > limits.totalBytes) {
        countRefusal("archive_unpacked_bytes");
        throw new KensaError(
          "KENSA_ERR_UPLOAD_TOO_LARGE",
          `the tar archive holds more than ${limits.totalBytes} bytes`,
        );
      }
      listed.push({ name: h.name, kind: kindOf(h), size: h.size, dataPos: entry.offset + BLOCK });
      entry.resume();
    }
  } catch (err) {
    input.destroy();
    if (err instanceof KensaError) throw err;
    const last = listed.at(-1);
    const end = last ? last.dataPos + Math.ceil(last.size / BLOCK) * BLOCK : 0;
    if (!last) throw invalid(`not a tar archive (${(err as Error).message})`);
    // the file ends inside the last entry or the header after it: keep what is complete
    if (end + BLOCK > fileSize) return listed;
    // data after the end-of-archive blocks is not ours to read
    if (await isZeroBlock(fh, end)) return listed;
    throw invalid(`corrupt tar header at byte ${end} (${(err as Error).message})`);
  }
  return listed;
}

function kindOf(h: Header): EntryKind {
  switch (h.type) {
    case "file":
    case "contiguous-file":
      return "file";
    case "directory":
      return "dir";
    case "symlink":
      return "symlink";
    case "link":
      return "hardlink";
    default:
      return "other";
  }
}

function toEntry(fh: FileHandle, fileSize: number, e: Listed, maxBytes: number): ArchiveEntry {
  const checked = checkEntryPath(e.name);
  const entry: ArchiveEntry = {
    path: checked.ok ? checked.path : e.name,
    kind: e.kind,
    size: e.size,
    read: async () => {
      if (e.size > maxBytes) throw invalid(`${e.name}: entry too large`);
      if (e.dataPos + e.size > fileSize) throw invalid(`${e.name}: the entry is cut off (truncated archive)`);
      const buf = Buffer.alloc(e.size);
      for (let off = 0; off < e.size; ) {
        const { bytesRead } = await fh.read(buf, off, e.size - off, e.dataPos + off);
        if (bytesRead === 0) throw invalid(`${e.name}: unexpected end of archive`);
        off += bytesRead;
      }
      return buf;
    },
  };
  if (!checked.ok) entry.problem = { code: checked.code, message: checked.message };
  else if (e.kind === "symlink" || e.kind === "hardlink" || e.kind === "other") {
    entry.problem = {
      code: "KENSA_ERR_DATASET_LINK",
      message: `"${e.name}" is a ${e.kind === "other" ? "special file" : e.kind.replace("link", " link")}; links are not followed`,
    };
  }
  return entry;
}

async function isZeroBlock(fh: FileHandle, pos: number): Promise<boolean> {
  const block = Buffer.alloc(BLOCK);
  const { bytesRead } = await fh.read(block, 0, BLOCK, pos);
  return bytesRead === BLOCK && block.every((b) => b === 0);
}

function invalid(message: string): KensaError {
  return new KensaError("KENSA_ERR_ARCHIVE_INVALID", message);
}
