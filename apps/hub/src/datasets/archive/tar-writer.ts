import type { ArchiveWriter } from "./archive-writer.js";

const BLOCK = 512;

/** ustar, with a pax `path` record for names that do not fit ustar's name/prefix fields. */
export class TarWriter implements ArchiveWriter {
  readonly contentType = "application/x-tar";
  readonly extension = "tar";

  add(path: string, data: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    const split = splitUstar(path);
    if (!split) {
      const rec = paxRecord("path", path);
      out.push(tarHeader("PaxHeader", rec.length, "x", null), rec, pad(rec.length));
    }
    out.push(tarHeader(split?.name ?? path.slice(-100), data.byteLength, "0", split?.prefix ?? null));
    out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), pad(data.byteLength));
    return out;
  }

  finish(): Buffer[] {
    return [Buffer.alloc(BLOCK * 2)];
  }
}

function splitUstar(path: string): { name: string; prefix: string | null } | null {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: null };
  for (let i = path.indexOf("/"); i > 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  return null;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len++;
  return Buffer.from(`${len}${body}`);
}

/** One ustar header block; `type` is the typeflag ("0" file, "2" symlink, "x" pax, …). */
export function tarHeader(
  name: string,
  size: number,
  type: string,
  prefix: string | null = null,
  linkname = "",
): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  if (linkname) h.write(linkname, 157, 100, "utf8");
  h.write("0000644\0", 100, "latin1");
  h.write("0000000\0", 108, "latin1");
  h.write("0000000\0", 116, "latin1");
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  h.write("00000000000\0", 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(type, 156, "latin1");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  h.write("kensa", 265, "latin1");
  h.write("kensa", 297, "latin1");
  if (prefix) h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

function pad(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}
