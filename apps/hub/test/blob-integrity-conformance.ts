import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { isKensaError } from "@kensa/contracts";
import { beforeEach, describe, expect, it } from "vitest";
import type { BlobStore } from "../src/index.js";

/** Replaces the content stored under `sha256` without going through the store. */
export type Tamper = (store: BlobStore, sha256: string, content: Uint8Array) => Promise<void>;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** bytes; above the size a store reads whole before serving, so it is hashed while streaming */
const LARGE = 5 * 1024 * 1024 + 17;

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function flipped(b: Uint8Array, at: number): Uint8Array {
  const c = new Uint8Array(b);
  c[at] = c[at]! ^ 0xff;
  return c;
}

async function drain(stream: Readable): Promise<{ received: number; error: unknown }> {
  let received = 0;
  try {
    for await (const c of stream) received += (c as Buffer).byteLength;
    return { received, error: null };
  } catch (error) {
    return { received, error };
  }
}

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return isKensaError(err) ? err.code : `uncoded: ${(err as Error).message}`;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Integrity half of the BlobStore conformance: nothing corrupt is served as good; re-puts repair. */
export function blobIntegrityConformance(name: string, make: () => Promise<BlobStore>, tamper: Tamper): void {
  describe(`BlobStore integrity conformance: ${name}`, () => {
    let store: BlobStore;
    let found: Array<{ sha256: string; via: string }>;
    beforeEach(async () => {
      store = await make();
      found = [];
      store.onCorrupt((e) => found.push({ sha256: e.sha256, via: e.via }));
    });

    it("refuses a corrupt blob on get, quarantines it and tells listeners", async () => {
      const bytes = pattern(10_000, 1);
      const { sha256 } = await store.put(bytes);
      await tamper(store, sha256, flipped(bytes, 5_000));
      expect(await codeOf(store.get(sha256))).toBe("KENSA_ERR_BLOB_CORRUPT");
      expect(await store.has(sha256)).toBe(false);
      expect(await store.get(sha256)).toBeNull();
      expect((await collect(store.quarantined())).map((q) => q.sha256)).toEqual([sha256]);
      expect(found).toEqual([{ sha256, via: "read" }]);
    });

    it("refuses a small corrupt blob before streaming a byte, truncated content included", async () => {
      const bytes = pattern(3_000, 2);
      const { sha256 } = await store.put(bytes);
      await tamper(store, sha256, bytes.subarray(0, 2_000));
      expect(await codeOf(store.stream(sha256))).toBe("KENSA_ERR_BLOB_CORRUPT");
      expect(await store.has(sha256)).toBe(false);
    });

    it("errors a large stream before its end when the content does not hash to its address", async () => {
      const bytes = pattern(LARGE, 3);
      const { sha256 } = await store.put(bytes);
      await tamper(store, sha256, flipped(bytes, 1_000_000));
      const s = await store.stream(sha256);
      expect(s?.size).toBe(LARGE);
      const { received, error } = await drain(s!.stream);
      expect(isKensaError(error) && error.code).toBe("KENSA_ERR_BLOB_CORRUPT");
      expect(received).toBeLessThan(LARGE);
      expect(await store.has(sha256)).toBe(false);
      expect(found.map((f) => f.via)).toEqual(["read"]);
    });

    it("streams a large intact blob whole", async () => {
      const bytes = pattern(LARGE, 4);
      const { sha256 } = await store.put(bytes);
      const { received, error } = await drain((await store.stream(sha256))!.stream);
      expect(error).toBeNull();
      expect(received).toBe(LARGE);
      expect(found).toEqual([]);
    });

    it("verifies a blob before serving a byte range of it", async () => {
      const bytes = pattern(LARGE, 12);
      const { sha256 } = await store.put(bytes);
      const part = await store.stream(sha256, { start: 1_000, end: 1_999 });
      const got: Buffer[] = [];
      for await (const c of part!.stream) got.push(c as Buffer);
      expect(Buffer.concat(got).equals(Buffer.from(bytes.subarray(1_000, 2_000)))).toBe(true);
      await tamper(store, sha256, flipped(bytes, 4_000_000));
      expect(await codeOf(store.stream(sha256, { start: 0, end: 99 }))).toBe("KENSA_ERR_BLOB_CORRUPT");
      expect(await store.has(sha256)).toBe(false);
      expect(found).toEqual([{ sha256, via: "read" }]);
    });

    it("verifies: ok, corrupt (then quarantined) or missing", async () => {
      const good = await store.put(pattern(1_000, 5));
      const bad = await store.put(pattern(1_000, 6));
      await tamper(store, bad.sha256, pattern(1_000, 7));
      expect(await store.verify(good.sha256)).toBe("ok");
      expect(await store.verify(bad.sha256, { via: "scrub", quarantine: false })).toBe("corrupt");
      expect(await store.has(bad.sha256)).toBe(true);
      expect(found).toEqual([]);
      expect(await store.verify(bad.sha256, { via: "scrub" })).toBe("corrupt");
      expect(await store.verify(bad.sha256)).toBe("missing");
      expect(found).toEqual([{ sha256: bad.sha256, via: "scrub" }]);
    });

    it("repairs a corrupt blob when its right content is put again", async () => {
      const bytes = pattern(20_000, 8);
      const { sha256 } = await store.put(bytes);
      await tamper(store, sha256, flipped(bytes, 7));
      expect(await store.put(bytes)).toEqual({ sha256, size: bytes.byteLength });
      expect(Buffer.from((await store.get(sha256))!).equals(Buffer.from(bytes))).toBe(true);
      expect(await store.verify(sha256)).toBe("ok");
      expect(found).toEqual([{ sha256, via: "put" }]);
    });

    it("stores again a quarantined blob when its content is put", async () => {
      const bytes = pattern(2_000, 9);
      const { sha256 } = await store.put(bytes);
      await tamper(store, sha256, flipped(bytes, 0));
      expect(await store.verify(sha256)).toBe("corrupt");
      await store.put(bytes);
      expect(await store.verify(sha256)).toBe("ok");
    });

    it("refuses content that does not hash to the sha256 it was sent for, storing nothing", async () => {
      const bytes = pattern(500, 10);
      const other = sha(pattern(500, 11));
      expect(await codeOf(store.put(bytes, { expectedSha256: other }))).toBe("KENSA_ERR_BLOB_DIGEST_MISMATCH");
      expect(await store.has(sha(bytes))).toBe(false);
      expect(await store.has(other)).toBe(false);
      expect(await store.put(bytes, { expectedSha256: sha(bytes) })).toEqual({ sha256: sha(bytes), size: 500 });
    });

    it("lists every address in order, resumes after one, and deletes", async () => {
      const infos = [];
      for (let i = 0; i < 5; i++) infos.push(await store.put(pattern(100 + i, 20 + i)));
      const sorted = [...infos].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
      const listed = await collect(store.list());
      expect(listed.map(({ sha256, size }) => ({ sha256, size }))).toEqual(sorted);
      for (const l of listed) expect(Date.now() - Date.parse(l.storedAt)).toBeLessThan(60_000);
      const rest = await collect(store.list({ after: sorted[1]!.sha256 }));
      expect(rest.map((l) => l.sha256)).toEqual(sorted.slice(2).map((i) => i.sha256));
      expect(await store.delete(sorted[0]!.sha256)).toBe(true);
      expect(await store.delete(sorted[0]!.sha256)).toBe(false);
      expect((await collect(store.list())).length).toBe(4);
    });
  });
}
