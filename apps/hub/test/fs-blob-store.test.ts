import { open, readdir, rename, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { FsBlobStore } from "../src/index.js";
import { blobStoreConformance } from "./blob-store-conformance.js";

const dirs: Array<{ remove(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of dirs) await d.remove();
});

blobStoreConformance(
  "fs",
  async () => {
    const d = await tempDir("kensa-blobs-");
    dirs.push(d);
    return new FsBlobStore(join(d.path, "blobs"));
  },
  async (store, sha256, content) => {
    // a new file under the old name, so nothing about it looks like the one verified before
    const path = (store as FsBlobStore).path(sha256);
    await writeFile(`${path}.tampered`, content);
    await rename(`${path}.tampered`, path);
  },
);

describe("FsBlobStore layout", () => {
  it("writes <root>/sha256/<first2>/<sha256> and leaves no temp files", async () => {
    const d = await tempDir("kensa-blobs-");
    dirs.push(d);
    const store = new FsBlobStore(join(d.path, "blobs"));
    const { sha256 } = await store.put(new TextEncoder().encode("layout"));
    expect(store.path(sha256)).toBe(join(d.path, "blobs", "sha256", sha256.slice(0, 2), sha256));
    expect(await readdir(join(d.path, "blobs", "sha256", sha256.slice(0, 2)))).toEqual([sha256]);
    expect(await readdir(join(d.path, "blobs", "tmp"))).toEqual([]);
  });

  it("moves a corrupt blob to <root>/quarantine/<sha256>.<ms>", async () => {
    const d = await tempDir("kensa-blobs-");
    dirs.push(d);
    const store = new FsBlobStore(join(d.path, "blobs"));
    const { sha256 } = await store.put(new TextEncoder().encode("quarantine me"));
    await writeFile(store.path(sha256), "something else");
    expect(await store.verify(sha256)).toBe("corrupt");
    const names = await readdir(join(d.path, "blobs", "quarantine"));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(new RegExp(`^${sha256}\\.\\d+$`));
  });
});

describe("FsBlobStore verification memory", () => {
  it("lets a re-put and a ranged read trust an unchanged verified file, never the scrub", async () => {
    const d = await tempDir("kensa-blobs-");
    dirs.push(d);
    const store = new FsBlobStore(join(d.path, "blobs"));
    const content = Buffer.alloc(64 * 1024, 7);
    const { sha256 } = await store.put(content);
    // a whole-second mtime, so it can be put back exactly after the rot below
    const path = store.path(sha256);
    const t = Math.floor(Date.now() / 1000) - 60;
    await utimes(path, t, t);
    expect(await store.verify(sha256)).toBe("ok"); // remembered from here on
    // bit rot: the bytes change in place while inode, size and mtime stay as they were
    const fh = await open(path, "r+");
    await fh.write(Buffer.from([8]), 0, 1, 100);
    await fh.close();
    await utimes(path, t, t);
    expect((await stat(path)).mtimeMs).toBe(t * 1000);
    // the shortcut keeps duplicate uploads and seeks cheap ...
    expect((await store.put(content)).sha256).toBe(sha256);
    // ... while the scrub rereads every byte and finds the rot
    expect(await store.verify(sha256, { quarantine: false })).toBe("corrupt");
    // once found, nothing trusts the memory: the next put repairs the blob
    await store.put(content);
    expect(await store.verify(sha256)).toBe("ok");
  });
});
