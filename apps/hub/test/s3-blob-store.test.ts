import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { isKensaError } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { S3BlobStore } from "../src/blobstore/s3/s3-blob-store.js";
import { blobStoreConformance } from "./blob-store-conformance.js";
import { localhostLookup, overwriteObject, type S3Server, s3Store, startS3Server } from "./s3-fixture.js";

const BUCKET = "kensa-blobs";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let server: S3Server | null = null;
let spoolRoot: { path: string; remove(): Promise<void> } | null = null;
let stores = 0;
async function setup(): Promise<{ server: S3Server; spool: string }> {
  spoolRoot ??= await tempDir("kensa-s3-spool-");
  server ??= await startS3Server([BUCKET]);
  return { server, spool: join(spoolRoot.path, "spool") };
}
afterAll(async () => {
  await server?.remove();
  await spoolRoot?.remove();
});

/** a fresh, empty store: each gets a prefix of its own in the one bucket */
async function freshStore(over: Parameters<typeof s3Store>[4] = {}): Promise<S3BlobStore> {
  const { server, spool } = await setup();
  return s3Store(server, BUCKET, `t${++stores}/`, spool, over);
}

blobStoreConformance(
  "s3 (path-style)",
  () => freshStore(),
  async (store, sha256, content) => {
    await overwriteObject(server!, BUCKET, (store as S3BlobStore).key(sha256), content);
  },
);

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

async function* chunked(b: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.byteLength; i += size) yield b.subarray(i, i + size);
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** a plain HTTP GET (no SDK, no credentials), resolving `*.localhost` to the loopback */
function plainGet(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { lookup: localhostLookup }, (res: IncomingMessage) => {
      readAll(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
    }).on("error", reject);
  });
}

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return isKensaError(err) ? err.code : `uncoded: ${(err as Error).message}`;
  }
}

describe("S3BlobStore", () => {
  beforeAll(async () => {
    await setup();
  });

  it("uploads content larger than a part as a multipart upload and leaves no spool file", async () => {
    const store = await freshStore();
    const big = pattern(12 * 1024 * 1024 + 5, 1);
    const before = server!.requests.length;
    const info = await store.put(chunked(big, 256 * 1024));
    expect(info).toEqual({ sha256: sha(big), size: big.byteLength });
    const seen = server!.requests.slice(before);
    expect(seen.some((r) => r.startsWith("POST") && r.includes("?uploads"))).toBe(true);
    expect(seen.filter((r) => r.startsWith("PUT") && r.includes("partNumber=")).length).toBe(3);
    expect(seen.some((r) => r.startsWith("POST") && r.includes("uploadId="))).toBe(true);
    expect((await readAll((await store.stream(info.sha256))!.stream)).equals(big)).toBe(true);
    expect(await readdir(join(spoolRoot!.path, "spool"))).toEqual([]);
  });

  it("uploads streamed content between the memory bound and a part in one PUT from its spool file", async () => {
    const store = await freshStore();
    const mid = pattern(4 * 1024 * 1024 + 100, 13);
    const before = server!.requests.length;
    const { sha256 } = await store.put(chunked(mid, 64 * 1024));
    const puts = server!.requests.slice(before).filter((r) => r.startsWith("PUT") || r.startsWith("POST"));
    expect(puts).toHaveLength(1);
    expect(puts[0]).not.toContain("partNumber=");
    expect(await store.verify(sha256)).toBe("ok");
    expect(await readdir(join(spoolRoot!.path, "spool"))).toEqual([]);
  });

  it("sends the blob's sha256 as x-amz-checksum-sha256 (per part in a multipart upload), unless told not to", async () => {
    const b64 = (b: Uint8Array) => createHash("sha256").update(b).digest("base64");
    const store = await freshStore();
    const small = pattern(10_000, 14);
    let from = server!.seen.length;
    await store.put(small);
    const put = server!.seen.slice(from).find((r) => r.method === "PUT")!;
    expect(put.headers["x-amz-checksum-sha256"]).toBe(b64(small));

    const big = pattern(5 * 1024 * 1024 + 10, 15);
    from = server!.seen.length;
    await store.put(big);
    const parts = server!.seen.slice(from).filter((r) => r.method === "PUT" && r.url.includes("partNumber="));
    expect(parts.map((p) => p.headers["x-amz-checksum-sha256"])).toEqual([
      b64(big.subarray(0, 5 * 1024 * 1024)),
      b64(big.subarray(5 * 1024 * 1024)),
    ]);
    const created = server!.seen.slice(from).find((r) => r.method === "POST" && r.url.includes("?uploads"))!;
    expect(created.headers["x-amz-checksum-algorithm"]).toBe("SHA256");

    const plain = await freshStore({ checksum: "none" });
    from = server!.seen.length;
    await plain.put(pattern(10_000, 16));
    const sent = server!.seen.slice(from).filter((r) => r.method === "PUT");
    expect(sent).toHaveLength(1);
    expect(
      Object.keys(sent[0]!.headers).filter((h) => h.startsWith("x-amz-checksum") || h.startsWith("x-amz-sdk-checksum")),
    ).toEqual([]);
  });

  it("uploads a buffer larger than a part in parts too", async () => {
    const store = await freshStore();
    const big = pattern(5 * 1024 * 1024 + 1, 12);
    const before = server!.requests.length;
    const { sha256 } = await store.put(big);
    const seen = server!.requests.slice(before);
    expect(seen.filter((r) => r.startsWith("PUT") && r.includes("partNumber=")).length).toBe(2);
    expect(await store.verify(sha256)).toBe("ok");
  });

  it("puts content up to a part in one PUT, under <prefix>sha256/<2>/<sha256>", async () => {
    const store = await freshStore();
    const before = server!.requests.length;
    const bytes = pattern(100_000, 2);
    const { sha256 } = await store.put(bytes);
    const puts = server!.requests.slice(before).filter((r) => r.startsWith("PUT"));
    expect(puts).toEqual([`PUT /${BUCKET}/${store.key(sha256)}?x-id=PutObject 127.0.0.1:${server!.port}`]);
    expect(store.key(sha256)).toMatch(new RegExp(`^t\\d+/sha256/${sha256.slice(0, 2)}/${sha256}$`));
  });

  it("serves byte ranges with ranged GETs, re-hashing only an object it has not verified", async () => {
    const store = await freshStore();
    const bytes = pattern(6 * 1024 * 1024, 3);
    const { sha256 } = await store.put(bytes);
    const first = await store.stream(sha256, { start: 10, end: 1_009 });
    expect(first!.size).toBe(bytes.byteLength);
    expect((await readAll(first!.stream)).equals(bytes.subarray(10, 1_010))).toBe(true);
    const before = server!.requests.length;
    const tail = await store.stream(sha256, { start: bytes.byteLength - 100, end: bytes.byteLength - 1 });
    expect((await readAll(tail!.stream)).equals(bytes.subarray(bytes.byteLength - 100))).toBe(true);
    // verified at the put and unchanged since: a HEAD and the ranged GET, no whole download
    expect(server!.requests.slice(before).map((r) => r.split(" ")[0])).toEqual(["HEAD", "GET"]);
  });

  it("hands out presigned GETs a plain HTTP client fetches, which expire", async () => {
    const store = await freshStore({ presign: { ttlSeconds: 60 } });
    const bytes = pattern(50_000, 4);
    const { sha256 } = await store.put(bytes);
    const url = await store.presignGet!(sha256);
    expect(url).toContain("X-Amz-Signature=");
    const got = await plainGet(url!);
    expect(got.status).toBe(200);
    expect(got.body.equals(bytes)).toBe(true);
    expect(await store.presignGet!("0".repeat(64))).toBeNull();
    const short = await store.presignGet!(sha256, 1);
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await plainGet(short!)).status).toBe(403);
  });

  it("has no presignGet unless presigning is configured", async () => {
    expect((await freshStore()).presignGet).toBeUndefined();
  });

  it("refuses to presign a corrupt object, quarantining it in the bucket", async () => {
    const store = await freshStore({ presign: { ttlSeconds: 60 } });
    const bytes = pattern(20_000, 5);
    const { sha256 } = await store.put(bytes);
    await overwriteObject(server!, BUCKET, store.key(sha256), pattern(20_000, 6));
    expect(await codeOf(store.presignGet!(sha256))).toBe("KENSA_ERR_BLOB_CORRUPT");
    expect(await store.has(sha256)).toBe(false);
    const q = [];
    for await (const x of store.quarantined()) q.push(x);
    expect(q.map((x) => [x.sha256, x.size])).toEqual([[sha256, 20_000]]);
  });

  it("addresses a virtual-host bucket (<bucket>.s3.<host>), presigned GETs included", async () => {
    const { server: s } = await setup();
    const store = await freshStore({
      endpoint: s.vhostEndpoint,
      forcePathStyle: false,
      presign: { ttlSeconds: 60 },
    });
    const before = s.requests.length;
    const bytes = pattern(30_000, 7);
    const { sha256 } = await store.put(bytes);
    expect(Buffer.from((await store.get(sha256))!).equals(bytes)).toBe(true);
    // the bucket is in the host name, not the path
    expect(s.requests.slice(before).filter((r) => r.startsWith("PUT"))).toEqual([
      `PUT /${store.key(sha256)}?x-id=PutObject ${BUCKET}.s3.localhost:${s.port}`,
    ]);
    const url = await store.presignGet!(sha256);
    expect(new URL(url!).hostname).toBe(`${BUCKET}.s3.localhost`);
    const got = await plainGet(url!);
    expect(got.status).toBe(200);
    expect(got.body.equals(bytes)).toBe(true);
  });

  it("keeps stores with different prefixes apart in one bucket", async () => {
    const a = await freshStore();
    const b = await freshStore();
    const x = await a.put(pattern(10, 8));
    await b.put(pattern(10, 9));
    expect(await b.has(x.sha256)).toBe(false);
    const listed = [];
    for await (const l of a.list()) listed.push(l.sha256);
    expect(listed).toEqual([x.sha256]);
  });

  it("answers KENSA_ERR_BLOB_STORE_UNAVAILABLE while the server is down, losing nothing", async () => {
    const store = await freshStore({ maxAttempts: 1, timeoutMs: 2_000 });
    const kept = pattern(40_000, 10);
    const { sha256 } = await store.put(kept);
    await server!.stop();
    try {
      const down = pattern(1_000, 11);
      expect(await codeOf(store.put(down))).toBe("KENSA_ERR_BLOB_STORE_UNAVAILABLE");
      expect(await codeOf(store.get(sha256))).toBe("KENSA_ERR_BLOB_STORE_UNAVAILABLE");
      expect(await codeOf(store.has(sha256))).toBe("KENSA_ERR_BLOB_STORE_UNAVAILABLE");
      expect(await codeOf(store.stream(sha256, { start: 0, end: 9 }))).toBe("KENSA_ERR_BLOB_STORE_UNAVAILABLE");
      const err = await store.verify(sha256).catch((e: unknown) => e);
      expect(isKensaError(err) && err.details).toMatchObject({ operation: "get" });
    } finally {
      await server!.restart();
    }
    // nothing was quarantined or lost: the blob reads back, and the failed put can be retried
    expect(Buffer.from((await store.get(sha256))!).equals(kept)).toBe(true);
    const q = [];
    for await (const x of store.quarantined()) q.push(x);
    expect(q).toEqual([]);
    expect((await store.put(pattern(1_000, 11))).size).toBe(1_000);
    expect(await readdir(join(spoolRoot!.path, "spool")).catch(() => [])).toEqual([]);
  });
});
