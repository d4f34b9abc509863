import { ZipFile } from "yazl";
import type { ArchiveWriter } from "./archive-writer.js";
import { OutputQueue } from "./output-queue.js";

/**
 * 1980-01-01 00:00 in local time, which yazl stores as the earliest DOS date whatever the time
 * zone; without yazl's UTC timestamp field, exports are reproducible byte for byte anywhere.
 */
const EPOCH_1980 = new Date(1980, 0, 1);

/**
 * Zip through yazl (zip64 when an export needs it). Images are stored as they are, since JPEG
 * and PNG do not compress further; text annotations are deflated.
 */
export class ZipWriter implements ArchiveWriter {
  readonly contentType = "application/zip";
  readonly extension = "zip";
  #zip = new ZipFile();
  #out = new OutputQueue(this.#zip.outputStream);

  constructor() {
    this.#zip.on("error", (err: Error) => this.#out.fail(err));
  }

  add(path: string, data: Uint8Array): AsyncIterable<Buffer> {
    const compress = !/\.(jpe?g|png)$/i.test(path) && data.byteLength > 64;
    this.#zip.addBuffer(Buffer.from(data.buffer, data.byteOffset, data.byteLength), path, {
      mtime: EPOCH_1980,
      mode: 0o100644,
      compress,
      forceDosTimestamp: true,
    });
    // yazl writes an entry on its next turn of the event loop (later when it deflates)
    return this.#out.until(new Promise((resolve) => setImmediate(resolve)));
  }

  finish(): AsyncIterable<Buffer> {
    this.#zip.end();
    return this.#out.rest();
  }
}
