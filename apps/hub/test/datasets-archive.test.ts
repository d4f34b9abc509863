import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_LIMITS, type ArchiveLimits } from "../src/datasets/archive/archive-entry.js";
import type { ArchiveWriter } from "../src/datasets/archive/archive-writer.js";
import { openArchive } from "../src/datasets/archive/open-archive.js";
import { TarWriter } from "../src/datasets/archive/tar-writer.js";
import { ZipWriter } from "../src/datasets/archive/zip-writer.js";
import { rawTar, rawZip } from "./raw-archives.js";

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kensa-archive-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function toFile(bytes: Buffer): Promise<string> {
  const file = join(dir, `a${n++}.archive`);
  await writeFile(file, bytes);
  return file;
}

async function write(w: ArchiveWriter, files: Array<{ path: string; data: Uint8Array }>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (const f of files) for await (const c of w.add(f.path, f.data)) chunks.push(c);
  for await (const c of w.finish()) chunks.push(c);
  return Buffer.concat(chunks);
}

/** opens, reads every entry (error codes for those that fail), closes */
async function readAll(bytes: Buffer, limits?: Partial<ArchiveLimits>) {
  const a = await openArchive(await toFile(bytes), { ...ARCHIVE_LIMITS, ...limits });
  try {
    const out: Record<string, { kind: string; problem?: string; data?: string; error?: string }> = {};
    for (const e of a.entries) {
      const r: (typeof out)[string] = { kind: e.kind };
      if (e.problem) r.problem = e.problem.code;
      else if (e.kind === "file") {
        try {
          r.data = (await e.read()).toString("utf8");
        } catch (err) {
          r.error = (err as { code: string }).code;
        }
      }
      out[e.path] = r;
    }
    return { type: a.type, entries: out };
  } finally {
    await a.close();
  }
}

const code = (c: string) => expect.objectContaining({ code: c });
const text = (s: string) => Buffer.from(s, "utf8");

/** a deflated zip entry whose headers say `claimed` bytes while its data inflates to more */
function lyingZip(real: number, claimed: number): Buffer {
  const zip = rawZip([{ path: "notes.txt", data: Buffer.alloc(real, 0x61) }]);
  zip.writeUInt32LE(claimed, 22); // local header: uncompressed size
  zip.writeUInt32LE(claimed, zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 24); // central directory
  return zip;
}

describe("dataset archives: the writers", () => {
  const long = `${"deep/".repeat(30)}a-name-longer-than-ustar-allows-${"x".repeat(90)}.txt`;
  const files = [
    { path: "ok/a.jpg", data: text("not really a jpeg, stored as it is") },
    { path: "labels/a.txt", data: text("0 0.5 0.5 0.1 0.1\n".repeat(20)) },
    { path: "ünïcode/ß.txt", data: text("names are UTF-8") },
    { path: long, data: text("a pax path record carries this name") },
    { path: "empty.txt", data: new Uint8Array() },
  ];

  for (const make of [() => new ZipWriter(), () => new TarWriter()]) {
    it(`${make().extension}: what is written reads back byte for byte, and the same files give the same archive`, async () => {
      const bytes = await write(make(), files);
      const back = await readAll(bytes);
      expect(back.type).toBe(make().extension);
      expect(back.entries).toEqual(
        Object.fromEntries(files.map((f) => [f.path, { kind: "file", data: Buffer.from(f.data).toString("utf8") }])),
      );
      expect((await write(make(), files)).equals(bytes)).toBe(true);
    });
  }

  it("a zip deflates text and stores images; a tar.gz reads as its tar", async () => {
    const zip = await write(new ZipWriter(), files.slice(0, 2));
    // the 360-byte label file deflates to a few dozen bytes; the image is stored whole
    expect(zip.length).toBeLessThan(360 + 200);
    expect(zip.includes(Buffer.from(files[0]!.data))).toBe(true);
    const tgz = gzipSync(await write(new TarWriter(), files.slice(0, 2)));
    expect((await readAll(tgz)).entries["labels/a.txt"]?.data).toBe("0 0.5 0.5 0.1 0.1\n".repeat(20));
  });
});

describe("dataset archives: the safety layer over yauzl and tar-stream", () => {
  it("refuses unsafe paths and links per entry, and reads the rest", async () => {
    const tar = rawTar([
      { name: "ok/a.txt", data: text("fine") },
      { name: "../evil.txt", data: text("climbs out") },
      { name: "ok/../../evil2.txt", data: text("climbs out") },
      { name: "/etc/evil.txt", data: text("absolute") },
      { name: "ok/link", type: "2", link: "/etc/passwd" },
      { name: "ok/hard", type: "1", link: "ok/a.txt" },
      { name: "ok/fifo", type: "6" },
    ]);
    expect((await readAll(tar)).entries).toEqual({
      "ok/a.txt": { kind: "file", data: "fine" },
      "../evil.txt": { kind: "file", problem: "KENSA_ERR_DATASET_UNSAFE_PATH" },
      "ok/../../evil2.txt": { kind: "file", problem: "KENSA_ERR_DATASET_UNSAFE_PATH" },
      "/etc/evil.txt": { kind: "file", problem: "KENSA_ERR_DATASET_UNSAFE_PATH" },
      "ok/link": { kind: "symlink", problem: "KENSA_ERR_DATASET_LINK" },
      "ok/hard": { kind: "hardlink", problem: "KENSA_ERR_DATASET_LINK" },
      "ok/fifo": { kind: "other", problem: "KENSA_ERR_DATASET_LINK" },
    });
    const zip = rawZip([
      { path: "ok/a.txt", data: text("fine") },
      { path: "..\\evil.txt", data: text("zip-slip, Windows style") },
      { path: "C:/evil.txt", data: text("absolute") },
    ]);
    // a symbolic link: unix mode 0120777 in the central directory's external attributes
    const link = rawZip([{ path: "ok/link", data: text("/etc/passwd") }]);
    link.writeUInt32LE((0o120777 << 16) >>> 0, link.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 38);
    expect((await readAll(zip)).entries).toEqual({
      "ok/a.txt": { kind: "file", data: "fine" },
      "..\\evil.txt": { kind: "file", problem: "KENSA_ERR_DATASET_UNSAFE_PATH" },
      "C:/evil.txt": { kind: "file", problem: "KENSA_ERR_DATASET_UNSAFE_PATH" },
    });
    expect((await readAll(link)).entries).toEqual({
      "ok/link": { kind: "symlink", problem: "KENSA_ERR_DATASET_LINK" },
    });
  });

  it("a zip entry whose header understates its size fails alone, however far its data would inflate", async () => {
    const zip = lyingZip(4 * 1024 * 1024, 1000);
    const a = await openArchive(await toFile(zip));
    try {
      expect(a.entries.map((e) => [e.path, e.size])).toEqual([["notes.txt", 1000]]);
      await expect(a.entries[0]!.read()).rejects.toThrowError(code("KENSA_ERR_ARCHIVE_INVALID"));
    } finally {
      await a.close();
    }
  });

  it("a zip entry with a wrong CRC fails alone", async () => {
    const zip = rawZip([
      { path: "a.txt", data: text("first") },
      { path: "b.txt", data: text("second") },
    ]);
    zip.writeUInt32LE(0xdeadbeef, zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 16);
    expect((await readAll(zip)).entries).toEqual({
      "a.txt": { kind: "file", error: "KENSA_ERR_ARCHIVE_INVALID" },
      "b.txt": { kind: "file", data: "second" },
    });
  });

  it("refuses a zip bomb by its declared sizes before inflating anything", async () => {
    const bomb = rawZip(Array.from({ length: 5 }, (_, i) => ({ path: `z${i}.txt`, data: Buffer.alloc(100_000) })));
    expect(bomb.length).toBeLessThan(5_000);
    await expect(readAll(bomb, { totalBytes: 300_000 })).rejects.toThrowError(code("KENSA_ERR_UPLOAD_TOO_LARGE"));
    expect(Object.keys((await readAll(bomb, { totalBytes: 500_000 })).entries)).toHaveLength(5);
  });

  it("refuses a gzip bomb while inflating it and leaves no inflated file behind", async () => {
    const tgz = gzipSync(rawTar([{ name: "zeros.txt", data: Buffer.alloc(2_000_000) }]));
    const file = await toFile(tgz);
    await expect(openArchive(file, { ...ARCHIVE_LIMITS, totalBytes: 1_000_000 })).rejects.toThrowError(
      code("KENSA_ERR_UPLOAD_TOO_LARGE"),
    );
    expect(existsSync(`${file}.tar`)).toBe(false);
  });

  it("refuses an archive with too many entries, zip or tar", async () => {
    const many = Array.from({ length: 4 }, (_, i) => ({ path: `f${i}.txt`, data: text(String(i)) }));
    const limits = { entries: 3 };
    await expect(readAll(rawZip(many), limits)).rejects.toThrowError(code("KENSA_ERR_UPLOAD_TOO_LARGE"));
    const tar = rawTar(many.map((f) => ({ name: f.path, data: f.data })));
    await expect(readAll(tar, limits)).rejects.toThrowError(code("KENSA_ERR_UPLOAD_TOO_LARGE"));
    expect(Object.keys((await readAll(tar, { entries: 4 })).entries)).toHaveLength(4);
  });

  it("an entry over the per-entry budget fails alone when read", async () => {
    const files = [
      { path: "big.txt", data: Buffer.alloc(5_000, 0x62) },
      { path: "small.txt", data: text("fits") },
    ];
    const expected = {
      "big.txt": { kind: "file", error: "KENSA_ERR_ARCHIVE_INVALID" },
      "small.txt": { kind: "file", data: "fits" },
    };
    expect((await readAll(rawZip(files), { entryBytes: 1_000 })).entries).toEqual(expected);
    const tar = rawTar(files.map((f) => ({ name: f.path, data: f.data })));
    expect((await readAll(tar, { entryBytes: 1_000 })).entries).toEqual(expected);
  });

  it("a cut tar keeps its complete entries; junk after the end blocks is ignored; a corrupt header is refused", async () => {
    const tar = rawTar([
      { name: "a.txt", data: Buffer.alloc(700, 0x61) },
      { name: "b.txt", data: Buffer.alloc(700, 0x62) },
    ]);
    const cut = await readAll(tar.subarray(0, tar.length - 1024 - 600));
    expect(cut.entries["a.txt"]?.data).toBe("a".repeat(700));
    expect(cut.entries["b.txt"]).toEqual({ kind: "file", error: "KENSA_ERR_ARCHIVE_INVALID" });
    const trailing = Buffer.concat([tar, Buffer.from("x".repeat(2048))]);
    expect(Object.keys((await readAll(trailing)).entries)).toEqual(["a.txt", "b.txt"]);
    const corrupt = Buffer.from(tar);
    corrupt[512 + 1024 + 5] = 0x41; // inside b.txt's header: its checksum no longer matches
    await expect(readAll(corrupt)).rejects.toThrowError(code("KENSA_ERR_ARCHIVE_INVALID"));
    await expect(readAll(Buffer.from("not an archive at all ".repeat(50)))).rejects.toThrowError(
      code("KENSA_ERR_ARCHIVE_INVALID"),
    );
  });
});
