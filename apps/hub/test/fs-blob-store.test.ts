import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { FsBlobStore } from "../src/index.js";
import { blobStoreConformance } from "./blob-store-conformance.js";

const dirs: Array<{ remove(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of dirs) await d.remove();
});

blobStoreConformance("fs", async () => {
  const d = await tempDir("kensa-blobs-");
  dirs.push(d);
  return new FsBlobStore(join(d.path, "blobs"));
});

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
});
