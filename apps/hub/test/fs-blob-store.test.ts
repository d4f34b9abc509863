import { readdir, rename, writeFile } from "node:fs/promises";
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
