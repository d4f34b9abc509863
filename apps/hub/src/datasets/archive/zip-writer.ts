import { crc32, deflateRawSync } from "node:zlib";
import { KensaError } from "@kensa/contracts";
import type { ArchiveWriter } from "./archive-writer.js";

/** 1980-01-01 00:00, the earliest DOS date: exports are reproducible byte for byte. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const MAX32 = 0xffffffff;

/**
 * Zip without zip64 (exports above 4 GiB should use tar). Images are stored as they are,
 * since JPEG and PNG do not compress further; text annotations are deflated.
 */
export class ZipWriter implements ArchiveWriter {
  readonly contentType = "application/zip";
  readonly extension = "zip";
  #central: Buffer[] = [];
  #offset = 0;
  #count = 0;

  add(path: string, data: Uint8Array): Buffer[] {
    const name = Buffer.from(path, "utf8");
    const crc = crc32(data);
    const compress = !/\.(jpe?g|png)$/i.test(path) && data.byteLength > 64;
    const body = compress ? deflateRawSync(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const method = compress ? 8 : 0;
    if (this.#offset + 30 + name.length + body.length > MAX32 || this.#count >= 0xffff) {
      throw new KensaError("KENSA_ERR_VALIDATION", "the export is too large for zip (4 GiB, 65535 files); use tar");
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.byteLength, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE((3 << 8) | 20, 4); // made by unix, so the mode below is read as such
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(0x0800, 8);
    cen.writeUInt16LE(method, 10);
    cen.writeUInt16LE(0, 12);
    cen.writeUInt16LE(DOS_DATE, 14);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(data.byteLength, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    cen.writeUInt32LE(this.#offset, 42);
    this.#central.push(cen, name);
    this.#offset += 30 + name.length + body.length;
    this.#count++;
    return [local, name, body];
  }

  finish(): Buffer[] {
    const size = this.#central.reduce((n, b) => n + b.length, 0);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.#count, 8);
    end.writeUInt16LE(this.#count, 10);
    end.writeUInt32LE(size, 12);
    end.writeUInt32LE(this.#offset, 16);
    return [...this.#central, end];
  }
}
