import { crc32 } from "node:zlib";
import { KensaError } from "@kensa/contracts";
import { type Entry, getFileNameLowLevel, openPromise, type ZipFile } from "yauzl";
import { checkCompressionRatio } from "../../limits/archive-limits.js";
import { countRefusal } from "../../limits/limit-refusals.js";
import type { ArchiveEntry, ArchiveLimits, EntryKind } from "./archive-entry.js";
import { checkEntryPath } from "./safe-path.js";

const S_IFMT = 0o170000;

/**
 * Lists a zip file's entries from its central directory (zip64 included) with yauzl. Data is
 * inflated, size- and CRC-checked per entry on demand; a corrupt entry fails alone. An archive
 * over the entry or total-size budget is refused before anything is inflated.
 */
export async function readZipEntries(
  path: string,
  limits: ArchiveLimits,
): Promise<{ entries: ArchiveEntry[]; close(): Promise<void> }> {
  let zip: ZipFile;
  try {
    // names stay raw: yauzl would refuse the whole archive for one `../` entry, and an unsafe
    // name is reported per item instead (safe-path.ts); backslashes are kept for the same check
    zip = await openPromise(path, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (err) {
    throw invalid(`not a readable zip archive: ${(err as Error).message}`);
  }
  try {
    if (zip.entryCount > limits.entries) {
      countRefusal("archive_entries");
      throw new KensaError(
        "KENSA_ERR_UPLOAD_TOO_LARGE",
        `the zip archive lists ${zip.entryCount} entries; at most ${limits.entries} are accepted`,
      );
    }
    const entries: ArchiveEntry[] = [];
    let total = 0;
    try {
      for await (const z of zip.eachEntry()) {
        // headers can lie: this is the size the data is held to when it is inflated
        total += z.uncompressedSize;
        if (total > limits.totalBytes) {
          countRefusal("archive_unpacked_bytes");
          throw new KensaError(
            "KENSA_ERR_UPLOAD_TOO_LARGE",
            `the zip archive inflates to more than ${limits.totalBytes} bytes; refused before inflating`,
          );
        }
        // the central directory declares both sizes, and inflation is held to the declared one
        checkCompressionRatio(
          `zip entry "${z.fileNameRaw.toString("utf8")}"`,
          z.compressedSize,
          z.uncompressedSize,
          limits.entryRatio,
        );
        entries.push(toEntry(zip, z, limits));
      }
    } catch (err) {
      if (err instanceof KensaError) throw err;
      throw invalid(`corrupt zip central directory: ${(err as Error).message}`);
    }
    return { entries, close: async () => zip.close() };
  } catch (err) {
    zip.close();
    throw err;
  }
}

function toEntry(zip: ZipFile, z: Entry, limits: ArchiveLimits): ArchiveEntry {
  const raw = getFileNameLowLevel(z.generalPurposeBitFlag, z.fileNameRaw, z.extraFields, true);
  const unixType = z.versionMadeBy >> 8 === 3 ? (z.externalFileAttributes >>> 16) & S_IFMT : 0;
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
    size: z.uncompressedSize,
    read: () => readData(zip, z, raw, limits.entryBytes),
  };
  if (!checked.ok) entry.problem = { code: checked.code, message: checked.message };
  else if (kind === "symlink" || kind === "other") {
    entry.problem = {
      code: "KENSA_ERR_DATASET_LINK",
      message: `"${raw}" is a ${kind === "symlink" ? "symbolic link" : "special file"}; links are not followed`,
    };
  } else if (kind === "file" && z.isEncrypted()) {
    entry.problem = { code: "KENSA_ERR_ARCHIVE_INVALID", message: `"${raw}" is encrypted` };
  } else if (kind === "file" && z.compressionMethod !== 0 && z.compressionMethod !== 8) {
    entry.problem = {
      code: "KENSA_ERR_ARCHIVE_INVALID",
      message: `"${raw}" uses compression method ${z.compressionMethod}; only stored and deflate are supported`,
    };
  }
  return entry;
}

/**
 * Inflates one entry, holding it to the size its header declares (yauzl checks it too) and to
 * the per-entry budget, so a lying header stops within one chunk; then checks the CRC, which
 * yauzl leaves to the caller.
 */
async function readData(zip: ZipFile, z: Entry, raw: string, maxBytes: number): Promise<Buffer> {
  const bad = (why: string) => invalid(`${raw}: ${why}`);
  if (z.uncompressedSize > maxBytes) {
    countRefusal("archive_entry_bytes");
    throw bad("entry too large");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let crc = 0;
  try {
    const stream = await zip.openReadStreamPromise(z);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > z.uncompressedSize) {
        stream.destroy();
        throw bad(`inflates past the ${z.uncompressedSize} bytes its header declares`);
      }
      crc = crc32(chunk, crc);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof KensaError) throw err;
    throw bad(`cannot inflate: ${(err as Error).message}`);
  }
  if (size !== z.uncompressedSize || crc !== z.crc32) throw bad("CRC or size mismatch (corrupt entry)");
  return Buffer.concat(chunks, size);
}

function invalid(message: string): KensaError {
  return new KensaError("KENSA_ERR_ARCHIVE_INVALID", message);
}
