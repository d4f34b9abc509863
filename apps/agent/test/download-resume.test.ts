import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DownloadTry, downloadToFile } from "../src/updates/download.js";

const SIZE = 2 * 1024 * 1024 + 333;
const CUT_AT = 700 * 1024;
const make = (seed: number) => {
  const b = Buffer.alloc(SIZE);
  for (let i = 0; i < b.length; i++) b[i] = (i * seed + (i >> 11)) & 0xff;
  return b;
};
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** what the server holds and how it behaves on the next requests */
interface Behaviour {
  body: Buffer;
  /** requests (counted from 1) that are cut after CUT_AT bytes of body */
  cut: Set<number>;
  /** false: the server ignores Range (as a plain file server without it would) */
  ranges: boolean;
  /** replaced after the first request: the content changed under the same URL */
  after?: Buffer;
}

describe("downloads resume after a cut connection (Range, If-Range, ETag)", () => {
  let server: Server;
  let url: string;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let b: Behaviour;
  let seen: Array<{ range?: string; ifRange?: string }> = [];
  /** body bytes the server wrote, over all requests */
  let sent = 0;

  function serve(req: IncomingMessage, res: ServerResponse) {
    seen.push({ range: req.headers.range, ifRange: req.headers["if-range"] as string | undefined });
    const n = seen.length;
    const body = n > 1 && b.after ? b.after : b.body;
    const etag = `"${sha(body)}"`;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const validatorOk = req.headers["if-range"] === undefined || req.headers["if-range"] === etag;
    let start = 0;
    if (b.ranges && m && validatorOk) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
    }
    const part = body.subarray(start);
    const headers = { etag, "accept-ranges": "bytes", "content-length": part.length };
    if (start > 0)
      res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${body.length - 1}/${body.length}` });
    else res.writeHead(200, headers);
    if (b.cut.has(n)) {
      // the connection drops mid-body, as a flaky link or a restarted proxy does
      res.write(part.subarray(0, CUT_AT), () => setTimeout(() => res.socket?.destroy(), 30));
      sent += CUT_AT;
      return;
    }
    sent += part.length;
    res.end(part);
  }

  beforeAll(async () => {
    dir = await tempDir();
    server = createServer(serve);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await dir.remove();
  });
  beforeEach(() => {
    seen = [];
    sent = 0;
  });

  it("continues after the cut with Range and If-Range, re-sending none of the bytes it had", async () => {
    const body = make(31);
    b = { body, cut: new Set([1]), ranges: true };
    const tries: DownloadTry[] = [];
    const path = join(dir.path, "resumed.bin");
    const got = await downloadToFile(url, path, { retryBaseMs: 5, onTry: (t) => tries.push(t) });
    expect(got).toEqual({ sha256: sha(body), bytes: SIZE });
    expect((await readFile(path)).equals(body)).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({ range: undefined, ifRange: undefined });
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(seen[1]!.range ?? "")?.[1]);
    // the file held what arrived before the cut, and only the rest was asked for and sent
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(CUT_AT);
    expect(seen[1]!.ifRange).toBe(`"${sha(body)}"`);
    expect(sent - SIZE).toBeLessThanOrEqual(CUT_AT - resumedAt);
    expect(tries.map((t) => [t.from, t.status])).toEqual([
      [0, 200],
      [resumedAt, 206],
    ]);
  });

  it("starts afresh when the content changed meanwhile (If-Range no longer matches: 200)", async () => {
    const before = make(31);
    const after = make(57);
    b = { body: before, cut: new Set([1]), ranges: true, after };
    const path = join(dir.path, "changed.bin");
    const got = await downloadToFile(url, path, { retryBaseMs: 5 });
    // the new content whole, not the old prefix with the new tail
    expect(got).toEqual({ sha256: sha(after), bytes: SIZE });
    expect((await readFile(path)).equals(after)).toBe(true);
    expect(seen[1]!.ifRange).toBe(`"${sha(before)}"`);
  });

  it("starts afresh from a server that ignores Range", async () => {
    const body = make(13);
    b = { body, cut: new Set([1]), ranges: false };
    const path = join(dir.path, "no-ranges.bin");
    const tries: DownloadTry[] = [];
    const got = await downloadToFile(url, path, { retryBaseMs: 5, onTry: (t) => tries.push(t) });
    expect(got.sha256).toBe(sha(body));
    expect((await readFile(path)).equals(body)).toBe(true);
    expect(tries.map((t) => [t.status, t.received])).toEqual([
      [200, expect.any(Number)],
      [200, SIZE],
    ]);
  });

  it("resumes a partial file an earlier call left (resume), and restarts when it cannot be resumed (416)", async () => {
    const body = make(41);
    b = { body, cut: new Set([1]), ranges: true };
    const path = join(dir.path, "across.bin");
    // a try cut after making progress does not use up one of the tries: one is enough here
    await expect(downloadToFile(url, path, { attempts: 1, resume: true, retryBaseMs: 5 })).resolves.toMatchObject({
      sha256: sha(body),
    });
    // what an interrupted call (an agent restart mid-download) leaves: a prefix and its ETag
    const left = body.subarray(0, 512 * 1024);
    await writeFile(path, left);
    await writeFile(`${path}.etag`, `"${sha(body)}"`);
    seen = [];
    b = { body, cut: new Set(), ranges: true };
    const got = await downloadToFile(url, path, { resume: true, retryBaseMs: 5 });
    expect(got.sha256).toBe(sha(body));
    expect(seen.map((s) => s.range)).toEqual([`bytes=${left.length}-`]);
    await expect(stat(`${path}.etag`)).rejects.toMatchObject({ code: "ENOENT" });

    // a partial file longer than the content (another content's leftovers): 416, then from zero
    await writeFile(path, Buffer.concat([body, Buffer.alloc(10)]));
    await writeFile(`${path}.etag`, `"${sha(body)}"`);
    seen = [];
    const again = await downloadToFile(url, path, { resume: true, retryBaseMs: 5 });
    expect(again).toEqual({ sha256: sha(body), bytes: SIZE });
    expect(seen.map((s) => s.range)).toEqual([`bytes=${SIZE + 10}-`, undefined]);
  });

  it("without resume, a file left from before is replaced, not continued", async () => {
    const body = make(7);
    b = { body, cut: new Set(), ranges: true };
    const path = join(dir.path, "fresh.bin");
    await writeFile(path, Buffer.alloc(1000, 1));
    await writeFile(`${path}.etag`, `"${sha(body)}"`);
    const got = await downloadToFile(url, path, { retryBaseMs: 5 });
    expect(got).toEqual({ sha256: sha(body), bytes: SIZE });
    expect(seen.map((s) => s.range)).toEqual([undefined]);
  });
});
