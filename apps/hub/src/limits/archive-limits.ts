import type { LimitsConfig } from "../config/limits-config.js";
import { refusal } from "./limit-refusals.js";

/**
 * What one archive may hold. An archive over `entries` or `totalBytes` is refused as a whole
 * before any entry is inflated; an entry over `entryBytes` fails alone when it is read.
 */
export interface ArchiveLimits {
  /** bytes of one entry, uncompressed */
  entryBytes: number;
  /** entries of any kind (files, folders, links) */
  entries: number;
  /** bytes of all entries together, uncompressed; for a .tar.gz, of the inflated tar */
  totalBytes: number;
  /** uncompressed ÷ compressed size of one zip entry (or of a .tar.gz as a whole) above 1 MiB */
  entryRatio: number;
}

/**
 * An entry (or a gzip stream) inflating to less than this is never called a bomb, whatever its
 * ratio: a small, highly repetitive annotation file is harmless.
 */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

/** The archive readers' limits from the hub config. */
export function archiveLimitsOf(limits: LimitsConfig): ArchiveLimits {
  return {
    entries: limits.archiveEntries,
    totalBytes: limits.archiveUnpackedBytes,
    entryBytes: limits.archiveEntryBytes,
    entryRatio: limits.archiveEntryRatio,
  };
}

/**
 * Refuses data whose inflated size, as its header declares it (or as inflated so far), is more
 * than `maxRatio` times its compressed size: a decompression bomb, refused before (or while)
 * it is inflated. Throws KENSA_ERR_ARCHIVE_BOMB.
 */
export function checkCompressionRatio(what: string, compressed: number, inflated: number, maxRatio: number): void {
  if (inflated <= RATIO_FLOOR_BYTES) return;
  const ratio = inflated / Math.max(1, compressed);
  if (ratio <= maxRatio) return;
  throw refusal(
    "archive_entry_ratio",
    "KENSA_ERR_ARCHIVE_BOMB",
    `${what} inflates ${Math.round(ratio)}:1 (${compressed} → ${inflated} bytes); at most ${maxRatio}:1 is accepted (limits.archiveEntryRatio)`,
    { compressed, inflated, limit: maxRatio },
  );
}
