import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { KensaError } from "@kensa/contracts";
import { backoffMs, isRetryableStatus } from "../retry.js";

export interface DownloadOptions {
  /** `Authorization` header, sent only to the hub's own origin */
  authorization?: string;
  /** tries in total */
  attempts?: number;
  /** ms before the first retry; doubles */
  retryBaseMs?: number;
  /** refuse bodies larger than this many bytes */
  maxBytes?: number;
  /** ms per attempt */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** the global fetch by default; one with TLS settings for a hub behind a site CA */
  fetch?: typeof fetch;
}

/** A body larger than allowed: not worth retrying. */
class TooLarge extends Error {}

/**
 * GETs `url` into memory. Network errors, timeouts, 408, 429 and 5xx are retried with backoff;
 * other statuses fail at once. Every failure is KENSA_ERR_BUNDLE_DOWNLOAD_FAILED.
 */
export function downloadBytes(url: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
  return withRetries(url, opts, async (res, maxBytes) => {
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.byteLength > maxBytes) throw new TooLarge(`${body.byteLength} bytes exceed the ${maxBytes} byte limit`);
    return body;
  });
}

/**
 * GETs `url` into the file at `path` (replaced on every try), hashing the body as it streams,
 * so a model of any size never sits in memory. Retries and errors as downloadBytes.
 */
export function downloadToFile(
  url: string,
  path: string,
  opts: DownloadOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  return withRetries(url, opts, async (res, maxBytes) => {
    const hash = createHash("sha256");
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(new TooLarge(`more than the ${maxBytes} byte limit`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    if (!res.body) throw new Error("empty response");
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), meter, createWriteStream(path));
    return { sha256: hash.digest("hex"), bytes };
  });
}

async function withRetries<T>(
  url: string,
  opts: DownloadOptions,
  consume: (res: Response, maxBytes: number) => Promise<T>,
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  const maxBytes = opts.maxBytes ?? 1024 * 1024 * 1024;
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1)
      await sleep(backoffMs(attempt - 1, opts.retryBaseMs ?? 500, 10_000), undefined, { signal: opts.signal });
    let retryable = true;
    try {
      const signals = [AbortSignal.timeout(opts.timeoutMs ?? 120_000)];
      if (opts.signal) signals.push(opts.signal);
      const res = await (opts.fetch ?? fetch)(url, {
        headers: opts.authorization ? { authorization: opts.authorization } : {},
        signal: AbortSignal.any(signals),
      });
      if (!res.ok) {
        retryable = isRetryableStatus(res.status);
        await res.arrayBuffer().catch(() => undefined);
        throw new Error(`HTTP ${res.status}`);
      }
      const declared = Number(res.headers.get("content-length") ?? "0");
      if (declared > maxBytes) {
        await res.body?.cancel().catch(() => undefined);
        throw new TooLarge(`${declared} bytes exceed the ${maxBytes} byte limit`);
      }
      return await consume(res, maxBytes);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      // a file that cannot be written is the disk's fault, not the network's: the caller decides
      if (isFsError(err)) throw err;
      if (err instanceof TooLarge) retryable = false;
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      last = `${(err as Error).message}${cause ? ` (${cause})` : ""}`;
      if (!retryable) break;
    }
  }
  throw new KensaError("KENSA_ERR_BUNDLE_DOWNLOAD_FAILED", `GET ${url} failed: ${last}`);
}

/** A Node file-system error (ENOSPC, EACCES, ENOENT …) rather than an HTTP or network one. */
export function isFsError(err: unknown): boolean {
  const e = err as { syscall?: unknown; code?: unknown };
  return (
    typeof e?.syscall === "string" &&
    typeof e.code === "string" &&
    /^(open|write|close|fsync|mkdir|rename)$/.test(e.syscall)
  );
}
