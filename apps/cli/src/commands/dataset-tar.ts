import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";

const BLOCK = 512;

interface TarItem {
  path: string;
  size: number;
  /** absolute file to read, or a link target */
  file: string;
  link: string | null;
}

/**
 * Packs a directory as a tar stream for upload: regular files and, as link entries, symbolic
 * links (never followed, so the hub reports them per item instead of the CLI reading outside
 * the directory). Returns the stream and its exact size in bytes, for a progress bar.
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
  const headers = items.map((it) => entryHeaders(it));
  const size = items.reduce((n, it, i) => n + headers[i]!.length + it.size + padLen(it.size), 0) + BLOCK * 2;
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i === items.length) {
        controller.enqueue(new Uint8Array(BLOCK * 2));
        controller.close();
        return;
      }
      const it = items[i]!;
      const head = headers[i]!;
      i++;
      controller.enqueue(head);
      if (it.link === null) {
        let read = 0;
        for await (const chunk of createReadStream(it.file)) {
          read += (chunk as Buffer).length;
          controller.enqueue(new Uint8Array(chunk as Buffer));
        }
        if (read !== it.size) throw new Error(`${it.file} changed while it was packed`);
        controller.enqueue(new Uint8Array(padLen(it.size)));
      }
    },
  });
  return { stream, size, files: items.length };
}

function padLen(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** ustar header, with a pax record before it when the name is longer than 100 bytes. */
function entryHeaders(it: TarItem): Uint8Array {
  const parts: Buffer[] = [];
  if (Buffer.byteLength(it.path) > 100) {
    const body = ` path=${it.path}\n`;
    const bodyLen = Buffer.byteLength(body);
    let len = bodyLen + 1;
    while (String(len).length + bodyLen !== len) len++;
    const rec = Buffer.from(`${len}${body}`);
    parts.push(header("PaxHeader", rec.length, "x", ""), rec, Buffer.alloc(padLen(rec.length)));
  }
  parts.push(
    header(it.path.slice(0, 100), it.link === null ? it.size : 0, it.link === null ? "0" : "2", it.link ?? ""),
  );
  return new Uint8Array(Buffer.concat(parts));
}

function header(name: string, size: number, type: string, link: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100, "latin1");
  h.write("0000000\0", 108, "latin1");
  h.write("0000000\0", 116, "latin1");
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  h.write("00000000000\0", 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(type, 156, "latin1");
  if (link) h.write(link, 157, 100, "utf8");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}
