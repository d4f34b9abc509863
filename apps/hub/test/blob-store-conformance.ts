import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { BlobStore } from "../src/index.js";
import { blobIntegrityConformance, type Tamper } from "./blob-integrity-conformance.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function* chunks(parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield p;
}

/**
 * What every BlobStore adapter must do. An adapter's test is `blobStoreConformance(name, make,
 * tamper)` where `make` returns a fresh, empty store and `tamper` overwrites a stored blob's
 * content behind the store's back (the way a disk or a bucket corrupts it).
 */
export function blobStoreConformance(name: string, make: () => Promise<BlobStore>, tamper: Tamper): void {
  blobIntegrityConformance(name, make, tamper);
  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore;
    beforeEach(async () => {
      store = await make();
    });

    it("addresses content by its sha256 and returns it byte for byte", async () => {
      const bytes = new TextEncoder().encode("kensa blob");
      const info = await store.put(bytes);
      expect(info).toEqual({ sha256: sha(bytes), size: bytes.byteLength });
      expect(await store.has(info.sha256)).toBe(true);
      expect(Buffer.from((await store.get(info.sha256))!)).toEqual(Buffer.from(bytes));
    });

    it("accepts a stream of chunks and hashes the whole", async () => {
      const parts = [new Uint8Array(70_000).fill(1), new Uint8Array(3).fill(2), new Uint8Array(0)];
      const whole = Buffer.concat(parts);
      const info = await store.put(chunks(parts));
      expect(info).toEqual({ sha256: sha(whole), size: whole.byteLength });
      const s = await store.stream(info.sha256);
      expect(s?.size).toBe(whole.byteLength);
      const got: Buffer[] = [];
      for await (const c of s!.stream) got.push(c as Buffer);
      expect(Buffer.concat(got).equals(whole)).toBe(true);
    });

    it("stores the same content once", async () => {
      const a = await store.put(new TextEncoder().encode("same"));
      const b = await store.put(new TextEncoder().encode("same"));
      expect(a).toEqual(b);
    });

    it("stores empty content", async () => {
      const info = await store.put(new Uint8Array(0));
      expect(info.size).toBe(0);
      expect((await store.get(info.sha256))?.byteLength).toBe(0);
    });

    it("answers null / false for absent or malformed addresses", async () => {
      const absent = "0".repeat(64);
      expect(await store.has(absent)).toBe(false);
      expect(await store.get(absent)).toBeNull();
      expect(await store.stream(absent)).toBeNull();
      expect(await store.has("../../etc/passwd")).toBe(false);
      expect(await store.get("../../etc/passwd")).toBeNull();
    });

    it("leaves nothing under an address when the source stream fails midway", async () => {
      async function* failing(): AsyncIterable<Uint8Array> {
        yield new TextEncoder().encode("partial");
        throw new Error("source broke");
      }
      await expect(store.put(failing())).rejects.toThrow("source broke");
      expect(await store.has(sha(new TextEncoder().encode("partial")))).toBe(false);
    });

    it("survives concurrent puts of the same content", async () => {
      const bytes = new Uint8Array(100_000).fill(7);
      const results = await Promise.all(Array.from({ length: 8 }, () => store.put(bytes)));
      for (const r of results) expect(r.sha256).toBe(sha(bytes));
      expect((await store.get(sha(bytes)))?.byteLength).toBe(bytes.byteLength);
    });
  });
}
