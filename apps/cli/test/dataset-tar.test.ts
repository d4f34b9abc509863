import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarDirectory } from "../src/commands/dataset-tar.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kensa-tar-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(stream).arrayBuffer());
}

async function entriesOf(tar: Buffer) {
  const out: Array<{ name: string; type: string; linkname: string | null; data: string }> = [];
  const x = extract();
  x.end(tar);
  for await (const e of x) {
    const parts: Buffer[] = [];
    for await (const c of e) parts.push(c as Buffer);
    out.push({
      name: e.header.name,
      type: e.header.type,
      linkname: e.header.linkname,
      data: Buffer.concat(parts).toString(),
    });
  }
  return out;
}

describe("kensa dataset import <dir>: the directory packed as tar", () => {
  it("holds every file (long and non-ASCII names too) and symbolic links as links, in the size it announced", async () => {
    const root = join(dir, "set");
    const long = `${"nested-folder/".repeat(9)}an-image-with-a-long-name.jpg`;
    await mkdir(join(root, "ok", "sub"), { recursive: true });
    await mkdir(join(root, long, ".."), { recursive: true });
    await writeFile(join(root, "ok", "a.jpg"), "a".repeat(700));
    await writeFile(join(root, "ok", "sub", "ß.jpg"), "sharp s");
    await writeFile(join(root, "ok", "empty.txt"), "");
    await writeFile(join(root, long), "deep");
    await symlink("/etc/passwd", join(root, "ok", "link.jpg"));

    const packed = await tarDirectory(root);
    const tar = await readAll(packed.stream);
    expect(packed.files).toBe(5);
    expect(tar.length).toBe(packed.size);
    expect(await entriesOf(tar)).toEqual([
      { name: long, type: "file", linkname: null, data: "deep" },
      { name: "ok/a.jpg", type: "file", linkname: null, data: "a".repeat(700) },
      { name: "ok/empty.txt", type: "file", linkname: null, data: "" },
      { name: "ok/link.jpg", type: "symlink", linkname: "/etc/passwd", data: "" },
      { name: "ok/sub/ß.jpg", type: "file", linkname: null, data: "sharp s" },
    ]);
  });

  it("fails the stream when a file changes size while it is packed", async () => {
    const root = join(dir, "changing");
    await mkdir(root);
    await writeFile(join(root, "a.jpg"), "short");
    const packed = await tarDirectory(root);
    await writeFile(join(root, "a.jpg"), "grew after it was listed");
    await expect(readAll(packed.stream)).rejects.toThrow(/changed while it was packed/);
  });
});
