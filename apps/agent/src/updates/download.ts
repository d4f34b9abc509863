import { createHash, type Hash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { KensaError } from "@kensa/contracts";
import { backoffMs, isRetryableStatus } from "../retry.js";

export interface DownloadOptions {
  /** `Authorization` header, sent only to the hub's own origin */
  authorization?: string;
  /** tries in total; a try cut short after receiving bytes does not use one up (it resumes) */
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
  /**
   * downloadToFile: continue a partial file left at the path by an earlier call (its validator
   * kept beside it as `<path>.etag`) instead of starting afresh; cut tries always resume
   */
  resume?: boolean;
  /** told after every try of downloadToFile: what it asked, got and wrote */
  onTry?: (t: DownloadTry) => void;
}

/** One try of a file download, as `onTry` reports it. */
export interface DownloadTry {
  /** bytes the file held when the try began (asked for with Range when > 0) */
  from: number;
  /** HTTP status, 0 when no response came */
  status: number;
  /** bytes of body received and written by this try */
  received: number;
  /** the try's failure, if any */
  error?: string;
}

/** A body larger than allowed: not worth retrying. */
class TooLarge extends Error {}

/**
 * GETs `url` into memory. Network errors, timeouts, 408, 429 and 5xx are retried with backoff;
 * other statuses fail at once. Every failure is KENSA_ERR_BUNDLE_DOWNLOAD_FAILED.
 */
export async function downloadBytes(url: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  return withRetries(url, opts, async (signal) => {
    const res = await get(url, opts, signal, {});
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.byteLength > maxBytes) throw new TooLarge(`${body.byteLength} bytes exceed the ${maxBytes} byte limit`);
    return { done: body };
  });
}

/**
 * GETs `url` into the file at `path`, hashing the body as it streams, so a model of any size
 * never sits in memory. A try cut mid-body resumes: the next asks for the rest with `Range`
 * and `If-Range: <the ETag the bytes came with>`, and appends a 206 whose Content-Range starts
 * where the file ends. A server that answers 200 instead (no Range support, or the content
 * changed so the ETag no longer matches) or 416 starts the file afresh. The hash returned is
 * always of the whole file, so the caller's sha256 check covers resumed bytes too. Retries and
 * errors as downloadBytes.
 */
export async function downloadToFile(
  url: string,
  path: string,
  opts: DownloadOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const etagFile = `${path}.etag`;
  // what the file holds and the validator it came with: resumable only with both
  let have = 0;
  let etag: string | null = null;
  if (opts.resume) {
    etag = await readFile(etagFile, "utf8").catch(() => null);
    have = etag ? await sizeOf(path) : 0;
  }
  if (have === 0) await rm(etagFile, { force: true });

  const result = await withRetries<{ sha256: string; bytes: number }>(url, opts, async (signal) => {
    const from = have > 0 && etag ? have : 0;
    let status = 0;
    let received = 0;
    let file: WriteStream | undefined;
    try {
      const res = await get(url, opts, signal, from > 0 && etag ? { range: `bytes=${from}-`, "if-range": etag } : {});
      status = res.status;
      const resumed = res.status === 206 && from > 0 && contentRangeStart(res.headers.get("content-range")) === from;
      if (res.status === 206 && !resumed) {
        // a range we did not ask for: nothing to build on
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`unexpected Content-Range ${res.headers.get("content-range")}`);
      }
      const start = resumed ? from : 0;
      const declared = Number(res.headers.get("content-length") ?? "0");
      if (start + declared > maxBytes) {
        await res.body?.cancel().catch(() => undefined);
        throw new TooLarge(`${start + declared} bytes exceed the ${maxBytes} byte limit`);
      }
      // the validator of the bytes about to be written: a later try resumes only with it
      etag = strongEtag(res.headers.get("etag"));
      if (opts.resume) {
        if (etag) await writeFile(etagFile, etag);
        else await rm(etagFile, { force: true });
      }
      // the prefix already on disk is hashed again: the file, not memory, is what is resumed
      const hash = createHash("sha256");
      if (start > 0) await hashFile(path, hash);
      let bytes = start;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          received += chunk.length;
          if (bytes > maxBytes) return done(new TooLarge(`more than the ${maxBytes} byte limit`));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      if (!res.body) throw new Error("empty response");
      file = createWriteStream(path, { flags: start > 0 ? "a" : "w" });
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), meter, file);
      opts.onTry?.({ from: start, status, received });
      return { done: { sha256: hash.digest("hex"), bytes } };
    } catch (err) {
      // a write still in flight would land after the size is read: wait until the file is closed
      if (file && !file.closed) await once(file, "close").catch(() => undefined);
      opts.onTry?.({ from, status, received, error: (err as Error).message });
      if (err instanceof HttpStatus && err.status === 416 && from > 0) {
        // the partial file is not a prefix of this content (longer than it): start afresh
        have = 0;
        etag = null;
        return { failed: err, progressed: false, restart: true };
      }
      // what reached the disk is kept for the next try when it can be validated
      const before = have;
      have = etag && !(err instanceof TooLarge) ? await sizeOf(path) : 0;
      return { failed: err, progressed: have > before };
    }
  });
  await rm(etagFile, { force: true });
  return result;
}

const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;
/** `progressed`: the file moved forward (retry at once, no try used); `restart`: retry at once from zero */
type TryOutcome<T> = { done: T } | { failed: unknown; progressed: boolean; restart?: boolean };

async function get(
  url: string,
  opts: DownloadOptions,
  signal: AbortSignal,
  extra: Record<string, string>,
): Promise<Response> {
  const headers: Record<string, string> = { ...extra };
  if (opts.authorization) headers.authorization = opts.authorization;
  const res = await (opts.fetch ?? fetch)(url, { headers, signal });
  if (!res.ok) {
    await res.arrayBuffer().catch(() => undefined);
    throw new HttpStatus(res.status);
  }
  return res;
}

class HttpStatus extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/**
 * Runs `once` up to `attempts` times. A try that made progress (a resumable download cut
 * mid-body) is retried at once without using up an attempt: it cannot loop for ever, as each
 * such try moves the file forward.
 */
async function withRetries<T>(
  url: string,
  opts: DownloadOptions,
  once: (signal: AbortSignal) => Promise<TryOutcome<T>>,
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  let last = "";
  let failures = 0;
  let pause = false;
  while (failures < attempts) {
    if (pause) await sleep(backoffMs(failures, opts.retryBaseMs ?? 500, 10_000), undefined, { signal: opts.signal });
    let retryable = true;
    let progressed = false;
    let restart = false;
    let err: unknown;
    try {
      const signals = [AbortSignal.timeout(opts.timeoutMs ?? 120_000)];
      if (opts.signal) signals.push(opts.signal);
      const outcome = await once(AbortSignal.any(signals));
      if ("done" in outcome) return outcome.done;
      err = outcome.failed;
      progressed = outcome.progressed;
      restart = outcome.restart === true;
    } catch (e) {
      err = e;
    }
    if (opts.signal?.aborted) throw err;
    if (restart) {
      pause = false;
      continue;
    }
    // a file that cannot be written is the disk's fault, not the network's: the caller decides
    if (isFsError(err)) throw err;
    if (err instanceof TooLarge) retryable = false;
    if (err instanceof HttpStatus) retryable = isRetryableStatus(err.status);
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    last = `${(err as Error).message}${cause ? ` (${cause})` : ""}`;
    if (!retryable) break;
    pause = !progressed;
    if (!progressed) failures++;
  }
  throw new KensaError("KENSA_ERR_BUNDLE_DOWNLOAD_FAILED", `GET ${url} failed: ${last}`);
}

/** The start offset of a `Content-Range: bytes <start>-<end>/<size>`, or null. */
function contentRangeStart(header: string | null): number | null {
  const m = header ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : null;
}

/** A strong ETag (weak ones may not validate a byte range, RFC 9110 §13.1.5), or null. */
function strongEtag(header: string | null): string | null {
  const v = header?.trim();
  return v && /^"[^"]*"$/.test(v) ? v : null;
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => null))?.size ?? 0;
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
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
