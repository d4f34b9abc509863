import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { KensaError } from "@kensa/contracts";

/** How an S3BlobStore reaches its bucket (built from the `blobs.s3` config section). */
export interface S3BlobStoreOptions {
  bucket: string;
  /** prepended to every key (e.g. "site-a/"); "" for none */
  prefix: string;
  /** the service URL (MinIO, Ceph RGW, R2); AWS's regional endpoint when omitted */
  endpoint?: string;
  region: string;
  /** `<endpoint>/<bucket>/<key>` instead of `<bucket>.<endpoint host>/<key>` */
  forcePathStyle: boolean;
  /** static credentials; the SDK's default chain (env, profile, instance role) when omitted */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** "sha256": uploads carry x-amz-checksum-sha256 the server checks; "none" for servers that refuse it */
  checksum: "sha256" | "none";
  /** bytes; content up to this is uploaded in one PUT, larger in parts of this size */
  partSizeBytes: number;
  /** parts uploaded at once in a multipart upload */
  partConcurrency: number;
  /** tries of one request (the first included) before it fails */
  maxAttempts: number;
  /** ms to connect, and ms a request may go without data, before it fails */
  timeoutMs: number;
  /** where content larger than one part waits, hashed, before it is uploaded */
  spoolDir: string;
  /** presigned GETs instead of streaming through the hub; `endpoint` when clients reach storage elsewhere */
  presign?: { ttlSeconds: number; endpoint?: string };
  /** the HTTP(S) agent requests go through (a private CA, a proxy, name resolution) */
  agent?: HttpAgent | HttpsAgent;
}

export function makeS3Client(o: S3BlobStoreOptions, endpoint: string | undefined = o.endpoint): S3Client {
  const checksums = o.checksum === "sha256" ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
  return new S3Client({
    region: o.region,
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: o.forcePathStyle,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    maxAttempts: o.maxAttempts,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    // the Node handler's options, which the client builds its handler from
    requestHandler: {
      connectionTimeout: o.timeoutMs,
      requestTimeout: o.timeoutMs,
      ...(o.agent ? { httpAgent: o.agent as HttpAgent, httpsAgent: o.agent as HttpsAgent } : {}),
    },
  });
}

/** True for the answers S3 gives for an absent key (GET: NoSuchKey, HEAD: a bare 404). */
export function isAbsent(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * The coded error for a request the store could not complete: storage unreachable, timed out,
 * a server error after retries, or credentials and bucket refused. KensaErrors pass through.
 */
export function unavailable(err: unknown, operation: string, key?: string): KensaError {
  if (err instanceof KensaError) return err;
  const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : e.$metadata?.httpStatusCode;
  const reason = e.code ?? e.name ?? "Error";
  return new KensaError(
    "KENSA_ERR_BLOB_STORE_UNAVAILABLE",
    `blob store ${operation}${key ? ` ${key}` : ""} failed: ${reason}${status ? ` (HTTP ${status})` : ""}: ${e.message}`,
    { operation, reason, ...(status ? { status } : {}), ...(key ? { key } : {}) },
  );
}
