import { pack } from "tar-stream";
import type { ArchiveWriter } from "./archive-writer.js";
import { OutputQueue } from "./output-queue.js";

const EPOCH = new Date(0);

/** ustar through tar-stream, with a pax `path` record for names that do not fit ustar's fields. */
export class TarWriter implements ArchiveWriter {
  readonly contentType = "application/x-tar";
  readonly extension = "tar";
  #tar = pack();
  #out = new OutputQueue(this.#tar);

  add(path: string, data: Uint8Array): AsyncIterable<Buffer> {
    const header = { name: path, type: "file" as const, mode: 0o644, mtime: EPOCH, uname: "kensa", gname: "kensa" };
    const written = new Promise<void>((resolve, reject) => {
      this.#tar.entry(header, data, (err) => (err ? reject(err) : resolve()));
    });
    return this.#out.until(written);
  }

  finish(): AsyncIterable<Buffer> {
    this.#tar.finalize();
    return this.#out.rest();
  }
}
