import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { type Header, type Pack, pack } from "tar-stream";

type Sink = ReturnType<Pack["entry"]>;

interface TarItem {
  path: string;
  size: number;
  /** absolute file to read */
  file: string;
  /** the target of a symbolic link, or null for a regular file */
  link: string | null;
}

/**
 * Packs a directory as a tar stream for upload, with tar-stream: regular files and, as link
 * entries, symbolic links (never followed, so the hub reports them per item instead of the CLI
 * reading outside the directory). Returns the stream and its exact size in bytes, for a
 * progress bar. Files are read only as the stream is consumed.
 */
export async function tarDirectory(
  dir: string,
): Promise<{ stream: ReadableStream<Uint8Array>; size: number; files: number }> {
  const items: TarItem[] = [];
  async function walk(d: string): Promise<void> {
    const names = (await readdir(d)).sort();
    for (const name of names) {
      const abs = join(d, name);
      const st = await lstat(abs);
      const path = relative(dir, abs).split(sep).join("/");
      if (st.isDirectory()) await walk(abs);
      else if (st.isSymbolicLink()) items.push({ path, size: 0, file: abs, link: await readlink(abs) });
      else if (st.isFile()) items.push({ path, size: st.size, file: abs, link: null });
    }
  }
  await walk(dir);
  const size = await tarSize(items);

  const tar = pack();
  const chunks = tar[Symbol.asyncIterator]();
  let started = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        fill(tar, items).catch((err: Error) => tar.destroy(err));
      }
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(new Uint8Array(next.value as Buffer));
    },
    cancel(reason) {
      tar.destroy(reason instanceof Error ? reason : new Error("the upload was cancelled"));
    },
  });
  return { stream, size, files: items.length };
}

function header(it: TarItem): Header {
  return {
    name: it.path,
    type: it.link === null ? "file" : "symlink",
    linkname: it.link ?? "",
    size: it.size,
    mode: 0o644,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
    uname: "",
    gname: "",
    devmajor: 0,
    devminor: 0,
  };
}

async function fill(tar: Pack, items: TarItem[]): Promise<void> {
  for (const it of items) {
    let sink!: Sink;
    const written = new Promise<void>((resolve, reject) => {
      sink = tar.entry(header(it), (err) => (err ? reject(err) : resolve()));
    });
    // when packing stops early, the pack's error reaches the upload stream; the entry's own
    // copy of it (an event and this promise) has nobody else to hear it
    written.catch(() => {});
    sink.on("error", () => {});
    if (it.link === null) {
      let read = 0;
      for await (const chunk of createReadStream(it.file) as AsyncIterable<Buffer>) {
        read += chunk.length;
        // a file that grew would overrun the size its header already holds
        if (read > it.size) break;
        if (sink.destroyed) break;
        if (!sink.write(chunk)) {
          await new Promise<void>((resolve) => {
            sink.once("drain", () => resolve());
            sink.once("close", () => resolve());
          });
        }
      }
      if (read !== it.size) throw new Error(`${it.file} changed while it was packed`);
      sink.end(null); // streamx's typings ask for a final chunk; null is none
    }
    await written;
  }
  tar.finalize();
}

/**
 * The tar's exact size: tar-stream's headers for every entry (a pax record when a name needs
 * one) with the data left out, plus each file's data padded to 512-byte blocks.
 */
async function tarSize(items: TarItem[]): Promise<number> {
  const skeleton = pack();
  for (const it of items) skeleton.entry({ ...header(it), size: 0 }, Buffer.alloc(0));
  skeleton.finalize();
  let bytes = 0;
  for await (const chunk of skeleton) bytes += (chunk as Buffer).length;
  return items.reduce((n, it) => n + Math.ceil(it.size / 512) * 512, bytes);
}
