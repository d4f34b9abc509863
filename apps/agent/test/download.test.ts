import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadBytes, downloadToFile } from "../src/updates/download.js";

const body = Buffer.alloc(3 * 1024 * 1024 + 17);
for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 9)) & 0xff;
const sha = createHash("sha256").update(body).digest("hex");

describe("downloads: streamed to a file with its hash, retried, bounded", () => {
  let server: Server;
  let base: string;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const hits = new Map<string, number>();

  beforeAll(async () => {
    dir = await tempDir();
    server = createServer((req, res) => {
      const n = (hits.get(req.url ?? "") ?? 0) + 1;
      hits.set(req.url ?? "", n);
      if (req.url === "/flaky" && n === 1) return res.writeHead(503).end("busy");
      if (req.url === "/missing") return res.writeHead(404).end("no");
      if (req.url === "/cut" && n === 1) {
        // a connection dropped mid-body: the next try must start the file afresh
        res.writeHead(200, { "content-length": body.length });
        res.write(body.subarray(0, 1024 * 1024));
        setTimeout(() => res.destroy(), 20);
        return;
      }
      if (req.url === "/chunked") {
        // no content-length: the limit must be enforced while streaming
        res.writeHead(200);
        for (let o = 0; o < body.length; o += 256 * 1024) res.write(body.subarray(o, o + 256 * 1024));
        return res.end();
      }
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await dir.remove();
  });

  it("writes the body to the file and hashes it as it streams", async () => {
    const path = join(dir.path, "ok.bin");
    expect(await downloadToFile(`${base}/ok`, path)).toEqual({ sha256: sha, bytes: body.length });
    expect((await readFile(path)).equals(body)).toBe(true);
  });

  it("retries a 503 and a body cut short, and the file holds only the complete body", async () => {
    for (const url of ["/flaky", "/cut"]) {
      const path = join(dir.path, `${url.slice(1)}.bin`);
      const got = await downloadToFile(`${base}${url}`, path, { retryBaseMs: 10 });
      expect(got.sha256).toBe(sha);
      expect((await readFile(path)).length).toBe(body.length);
      expect(hits.get(url)).toBe(2);
    }
  });

  it("refuses a body over the limit, declared or streamed, without retrying", async () => {
    for (const url of ["/big", "/chunked"]) {
      hits.delete(url);
      const err = await downloadToFile(`${base}${url}`, join(dir.path, "big.bin"), {
        maxBytes: 1024 * 1024,
        retryBaseMs: 10,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "KENSA_ERR_BUNDLE_DOWNLOAD_FAILED" });
      expect(String((err as Error).message)).toMatch(/1048576 byte limit/);
      expect(hits.get(url)).toBe(1);
    }
    await expect(downloadBytes(`${base}/chunked`, { maxBytes: 1024 })).rejects.toMatchObject({
      code: "KENSA_ERR_BUNDLE_DOWNLOAD_FAILED",
    });
  });

  it("fails a 404 at once, and leaves a file that cannot be written to the caller as a file-system error", async () => {
    hits.delete("/missing");
    await expect(downloadToFile(`${base}/missing`, join(dir.path, "m.bin"), { retryBaseMs: 10 })).rejects.toMatchObject(
      {
        code: "KENSA_ERR_BUNDLE_DOWNLOAD_FAILED",
        message: expect.stringMatching(/HTTP 404/),
      },
    );
    expect(hits.get("/missing")).toBe(1);
    await expect(downloadToFile(`${base}/ok`, join(dir.path, "no-such-dir", "x.bin"))).rejects.toMatchObject({
      code: "ENOENT",
      syscall: "open",
    });
  });
});
