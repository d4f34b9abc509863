import { setTimeout as sleep } from "node:timers/promises";
import { KensaError } from "@kensa/contracts";
import { backoffMs, isRetryableStatus } from "./basic-auth.js";

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
}

/**
 * GETs `url` into memory. Network errors, timeouts, 408, 429 and 5xx are retried with backoff;
 * other statuses fail at once. Every failure is KENSA_ERR_BUNDLE_DOWNLOAD_FAILED.
 */
export async function downloadBytes(url: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
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
      const res = await fetch(url, {
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
        retryable = false;
        throw new Error(`${declared} bytes exceed the ${maxBytes} byte limit`);
      }
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.byteLength > maxBytes) {
        retryable = false;
        throw new Error(`${body.byteLength} bytes exceed the ${maxBytes} byte limit`);
      }
      return body;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      last = `${(err as Error).message}${cause ? ` (${cause})` : ""}`;
      if (!retryable) break;
    }
  }
  throw new KensaError("KENSA_ERR_BUNDLE_DOWNLOAD_FAILED", `GET ${url} failed: ${last}`);
}
