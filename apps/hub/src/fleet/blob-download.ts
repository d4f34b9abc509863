import { stat } from "node:fs/promises";
import { KensaError } from "@kensa/contracts";
import type { FastifyReply, FastifyRequest } from "fastify";
import parseRange from "range-parser";
import type { BlobStore, ByteRange } from "../blobstore/blob-store.js";

/** How a download answers: the whole blob, one byte range of it, or nothing (absent). */
export type DownloadPlan = { kind: "whole" } | { kind: "range"; range: ByteRange };

/**
 * Which part of a blob of `size` bytes a request asks for. A `Range` is honoured only as one
 * byte range and only while an `If-Range` (when sent) still names this content: a different
 * ETag or a date (blobs have no Last-Modified) means the client's partial copy is of something
 * else, so it gets the whole blob. Malformed and multi-part ranges get the whole blob too
 * (RFC 9110 lets a server ignore Range); a range wholly past the end is
 * KENSA_ERR_RANGE_NOT_SATISFIABLE (416, with `Content-Range: bytes *\/<size>`).
 */
export function planDownload(
  headers: { range?: string | undefined; "if-range"?: string | undefined },
  etag: string,
  size: number,
  reply: FastifyReply,
): DownloadPlan {
  const header = headers.range;
  if (!header) return { kind: "whole" };
  const ifRange = headers["if-range"];
  if (ifRange !== undefined && ifRange.trim() !== etag) return { kind: "whole" };
  const ranges = parseRange(size, header, { combine: true });
  if (ranges === -1) {
    reply.header("content-range", `bytes */${size}`);
    throw new KensaError("KENSA_ERR_RANGE_NOT_SATISFIABLE", `${header} lies outside the ${size} bytes of the content`, {
      size,
    });
  }
  if (!Array.isArray(ranges) || ranges.type !== "bytes" || ranges.length !== 1) return { kind: "whole" };
  const only = ranges[0]!;
  // the whole content asked as a range is a plain 200: nothing to resume
  if (only.start === 0 && only.end === size - 1) return { kind: "whole" };
  return { kind: "range", range: { start: only.start, end: only.end } };
}

/**
 * The size of a stored blob without reading it, or null when absent. A file store answers
 * from the file; another store from a one-byte ranged stream (which verifies the blob first,
 * as every ranged read does).
 */
export async function blobSize(blobs: BlobStore, sha256: string): Promise<number | null> {
  if (blobs.supportsLocalPaths && blobs.path) {
    const st = await stat(blobs.path(sha256)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    return st ? st.size : null;
  }
  const probe = await blobs.stream(sha256, { start: 0, end: 0 });
  if (!probe) return null;
  probe.stream.destroy();
  return probe.size;
}

/**
 * Sends a content-addressed blob as a download: strong ETag (its sha256), `Accept-Ranges`, and
 * one byte range (206) when asked. Bytes are streamed, never buffered whole, and pass the blob
 * store's integrity checks: a whole read hashes as it streams (or, small, before it starts), a
 * ranged one verifies the whole blob before its first byte (remembered while the file is
 * unchanged), so a resumed download can never be served from content that does not match.
 * Returns false when the blob is absent.
 */
export async function sendBlob(
  req: FastifyRequest,
  reply: FastifyReply,
  blobs: BlobStore,
  sha256: string,
  contentType: string,
): Promise<boolean> {
  const etag = `"${sha256}"`;
  const headers = req.headers as { range?: string; "if-range"?: string };
  let plan: DownloadPlan = { kind: "whole" };
  if (headers.range) {
    const size = await blobSize(blobs, sha256);
    if (size === null) return false;
    plan = planDownload(headers, etag, size, reply);
  }
  const blob = plan.kind === "range" ? await blobs.stream(sha256, plan.range) : await blobs.stream(sha256);
  if (!blob) return false;
  reply
    .type(contentType)
    .header("etag", etag)
    .header("accept-ranges", "bytes")
    .header("cache-control", "private, max-age=31536000, immutable");
  if (plan.kind === "whole") {
    reply.header("content-length", blob.size).send(blob.stream);
    return true;
  }
  const { start, end } = plan.range;
  reply
    .code(206)
    .header("content-range", `bytes ${start}-${end}/${blob.size}`)
    .header("content-length", end - start + 1)
    .send(blob.stream);
  return true;
}
