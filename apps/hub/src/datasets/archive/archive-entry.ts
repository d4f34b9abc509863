import type { ErrorCode } from "@kensa/contracts";
import type { ArchiveLimits } from "../../limits/archive-limits.js";

export type { ArchiveLimits };

/** What an archive entry is. Only `file` entries are ever read; links are never followed. */
export type EntryKind = "file" | "dir" | "symlink" | "hardlink" | "other";

/** One entry of an uploaded archive, read lazily from the archive file. */
export interface ArchiveEntry {
  /** normalized relative path (`a/b.jpg`), or the raw name when `problem` is set */
  path: string;
  kind: EntryKind;
  /** bytes, uncompressed */
  size: number;
  /** why this entry may not be imported (unsafe path, link, unsupported compression) */
  problem?: { code: ErrorCode; message: string };
  /** the entry's bytes; rejects with a KensaError when they are truncated or corrupt */
  read(): Promise<Buffer>;
}

/** Largest single entry we inflate into memory: far above any image, far below a zip bomb. */
export const MAX_ENTRY_BYTES = 512 * 1024 * 1024;

/**
 * Uploads are capped at 4 GiB; images barely compress, so a real dataset inflates to about its
 * upload size and 16 GiB leaves room for text annotations while stopping a bomb early.
 */
export const ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  entryBytes: MAX_ENTRY_BYTES,
  entries: 1_000_000,
  totalBytes: 16 * 1024 ** 3,
  entryRatio: 200,
});
