/**
 * Builds an archive as a sequence of chunks, entry by entry, so exports stream without
 * holding the archive in memory. Timestamps and owners are fixed: the same content gives
 * byte-identical archives.
 */
export interface ArchiveWriter {
  readonly contentType: string;
  readonly extension: string;
  /** chunks to send for one regular file */
  add(path: string, data: Uint8Array): Buffer[];
  /** chunks that close the archive */
  finish(): Buffer[];
}
