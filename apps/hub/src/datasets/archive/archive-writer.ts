/**
 * Builds an archive entry by entry, so exports stream without holding the archive in memory.
 * Timestamps and owners are fixed: the same content gives byte-identical archives.
 */
export interface ArchiveWriter {
  readonly contentType: string;
  readonly extension: string;
  /**
   * Hands one regular file to the archive and yields the archive bytes that are ready by then
   * (this file's, or an earlier one's still being compressed); nothing is lost or reordered.
   */
  add(path: string, data: Uint8Array): AsyncIterable<Buffer>;
  /** closes the archive and yields every byte still to send */
  finish(): AsyncIterable<Buffer>;
}
