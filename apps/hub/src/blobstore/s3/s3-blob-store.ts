import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { KensaError } from "@kensa/contracts";
import { blobCorrupt, CorruptListeners, VERIFY_WHOLE_BYTES, VerifyingStream } from "../blob-integrity.js";
import {
  type BlobInfo,
  type BlobStore,
  type BlobVerdict,
  type ByteRange,
  type CorruptionSource,
  type CorruptListener,
  isSha256,
  type ListedBlob,
  type QuarantinedBlob,
} from "../blob-store.js";
import { isAbsent, makeS3Client, type S3BlobStoreOptions, unavailable } from "./s3-client.js";
import { listKeys } from "./s3-list.js";
import { type Spooled, spool } from "./s3-spool.js";

export type { S3BlobStoreOptions } from "./s3-client.js";

/**
 * Blobs as objects `<prefix>sha256/<first 2 hex>/<sha256>` in an S3 bucket (AWS S3, MinIO, Ceph
 * RGW, R2). Content is hashed before it is uploaded (its key is its hash), then sent in one PUT
 * or, when larger than a part, as a multipart upload; either becomes visible whole or not at all.
 * Reads verify as FsBlobStore's do. A corrupt object is copied to
 * `<prefix>quarantine/<sha256>.<ms since epoch>` and deleted from its address.
 */
export class S3BlobStore implements BlobStore {
  readonly supportsLocalPaths = false;
  /** present only when presigned URLs are configured */
  readonly presignGet?: (sha256: string, ttlSeconds?: number) => Promise<string | null>;
  readonly #o: S3BlobStoreOptions;
  readonly #client: S3Client;
  readonly #presigner: S3Client | null;
  #corrupt = new CorruptListeners();
  /** objects verified whole: sha256 → their ETag then (an overwrite changes it) */
  #verified = new Map<string, string>();

  constructor(o: S3BlobStoreOptions) {
    this.#o = o;
    this.#client = makeS3Client(o);
    // checksum headers would become signed headers a plain HTTP client never sends
    this.#presigner = o.presign ? makeS3Client({ ...o, checksum: "none" }, o.presign.endpoint ?? o.endpoint) : null;
    if (o.presign) this.presignGet = (sha256, ttl) => this.#presign(sha256, ttl ?? o.presign!.ttlSeconds);
  }

  /** the object key of a blob */
  key(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return `${this.#o.prefix}sha256/${sha256.slice(0, 2)}/${sha256}`;
  }

  onCorrupt(listener: CorruptListener): () => void {
    return this.#corrupt.add(listener);
  }

  /** Resolves when the bucket answers with these credentials; rejects with KENSA_ERR_BLOB_STORE_UNAVAILABLE. */
  async probe(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#o.bucket }));
    } catch (err) {
      throw unavailable(err, "probe", this.#o.bucket);
    }
  }

  /** stops the clients' keep-alive sockets */
  close(): void {
    this.#client.destroy();
    this.#presigner?.destroy();
  }

  async put(
    content: Uint8Array | AsyncIterable<Uint8Array>,
    opts: { expectedSha256?: string } = {},
  ): Promise<BlobInfo> {
    const spooled = await spool(content, {
      dir: this.#o.spoolDir,
      memoryBytes: Math.min(this.#o.partSizeBytes, SPOOL_MEMORY_BYTES),
    });
    try {
      const { sha256, size } = spooled;
      if (opts.expectedSha256 !== undefined && opts.expectedSha256 !== sha256) {
        throw new KensaError(
          "KENSA_ERR_BLOB_DIGEST_MISMATCH",
          `the content hashes to ${sha256}, not ${opts.expectedSha256}; nothing was stored`,
          { expected: opts.expectedSha256, actual: sha256 },
        );
      }
      // an object already here is kept only when its content still matches: a corrupt one is
      // quarantined and replaced by this upload (the repair a device's retry performs)
      const present = await this.#check(sha256, { trustRemembered: true });
      if (present.verdict === "ok") return { sha256, size };
      if (present.verdict === "corrupt") await this.quarantine(sha256, "put");
      const etag = await this.#upload(spooled);
      if (etag) this.#remember(sha256, etag);
      return { sha256, size };
    } finally {
      await spooled.dispose();
    }
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    if (!isSha256(sha256)) return null;
    const obj = await this.#getObject(sha256);
    if (!obj) return null;
    const bytes = await readBody(obj, "get", this.key(sha256));
    if (hex(bytes) !== sha256) throw await this.#corruptFound(sha256, "read");
    if (obj.ETag) this.#remember(sha256, obj.ETag);
    return bytes;
  }

  async stream(sha256: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | null> {
    if (!isSha256(sha256)) return null;
    if (range) return this.#streamRange(sha256, range, 1);
    const obj = await this.#getObject(sha256);
    if (!obj) return null;
    const size = obj.ContentLength ?? 0;
    const key = this.key(sha256);
    if (size <= VERIFY_WHOLE_BYTES) {
      const bytes = await readBody(obj, "get", key);
      if (hex(bytes) !== sha256) throw await this.#corruptFound(sha256, "read");
      return { stream: Readable.from(bytes.byteLength ? [Buffer.from(bytes)] : [], { objectMode: false }), size };
    }
    const body = obj.Body as Readable;
    const verifier = new VerifyingStream(sha256, () => this.#corruptFound(sha256, "read"));
    body.on("error", (err) => verifier.destroy(unavailable(err, "get", key)));
    verifier.on("close", () => body.destroy());
    body.pipe(verifier);
    return { stream: verifier, size };
  }

  async has(sha256: string): Promise<boolean> {
    return isSha256(sha256) && (await this.#head(sha256)) !== null;
  }

  async verify(sha256: string, opts: { via?: CorruptionSource; quarantine?: boolean } = {}): Promise<BlobVerdict> {
    const { verdict } = await this.#check(sha256);
    if (verdict === "corrupt" && opts.quarantine !== false) await this.quarantine(sha256, opts.via ?? "scrub");
    return verdict;
  }

  async *list(opts: { after?: string } = {}): AsyncIterable<ListedBlob> {
    const base = `${this.#o.prefix}sha256/`;
    const startAfter = opts.after ? `${base}${opts.after.slice(0, 2)}/${opts.after}` : undefined;
    for await (const o of listKeys(this.#client, this.#o.bucket, base, startAfter)) {
      const m = /^([a-f0-9]{2})\/([a-f0-9]{64})$/.exec(o.key.slice(base.length));
      if (!m || !m[2]!.startsWith(m[1]!)) continue;
      yield { sha256: m[2]!, size: o.size, storedAt: o.lastModified.toISOString() };
    }
  }

  async quarantine(sha256: string, via: CorruptionSource): Promise<boolean> {
    if (!isSha256(sha256)) return false;
    this.#verified.delete(sha256);
    const head = await this.#head(sha256);
    if (!head) return false;
    const key = this.key(sha256);
    const aside = `${this.#o.prefix}quarantine/${sha256}.${Date.now()}`;
    try {
      await this.#client.send(
        new CopyObjectCommand({ Bucket: this.#o.bucket, Key: aside, CopySource: copySource(this.#o.bucket, key) }),
      );
    } catch (err) {
      // gone meanwhile (quarantined by another reader): nothing left to move
      if (isAbsent(err)) return false;
      throw unavailable(err, "quarantine", key);
    }
    await this.#send("quarantine", key, new DeleteObjectCommand({ Bucket: this.#o.bucket, Key: key }));
    this.#corrupt.emit({ sha256, size: head.size, via });
    return true;
  }

  async *quarantined(): AsyncIterable<QuarantinedBlob> {
    const base = `${this.#o.prefix}quarantine/`;
    const found: QuarantinedBlob[] = [];
    for await (const o of listKeys(this.#client, this.#o.bucket, base)) {
      const m = /^([a-f0-9]{64})\.(\d+)$/.exec(o.key.slice(base.length));
      if (m) found.push({ sha256: m[1]!, size: o.size, at: new Date(Number(m[2])).toISOString() });
    }
    found.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    yield* found;
  }

  async delete(sha256: string): Promise<boolean> {
    // S3 answers a delete of an absent key as a success: ask first to tell the caller
    if (!isSha256(sha256) || !(await this.#head(sha256))) return false;
    this.#verified.delete(sha256);
    const key = this.key(sha256);
    await this.#send("delete", key, new DeleteObjectCommand({ Bucket: this.#o.bucket, Key: key }));
    return true;
  }

  /** One PUT up to a part's size (checksummed whole), else a multipart upload (each part checksummed). */
  async #upload(s: Spooled): Promise<string | undefined> {
    const key = this.key(s.sha256);
    const sha256Checksum = this.#o.checksum === "sha256";
    try {
      if (s.bytes && s.size <= this.#o.partSizeBytes) {
        const out = await this.#client.send(
          new PutObjectCommand({
            Bucket: this.#o.bucket,
            Key: key,
            Body: s.bytes,
            ContentLength: s.size,
            ContentType: "application/octet-stream",
            ...(sha256Checksum ? { ChecksumSHA256: Buffer.from(s.sha256, "hex").toString("base64") } : {}),
          }),
        );
        return out.ETag;
      }
      const upload = new Upload({
        client: this.#client,
        params: {
          Bucket: this.#o.bucket,
          Key: key,
          Body: s.bytes ?? s.open(),
          ContentType: "application/octet-stream",
          ...(sha256Checksum ? { ChecksumAlgorithm: "SHA256" as const } : {}),
        },
        partSize: this.#o.partSizeBytes,
        queueSize: this.#o.partConcurrency,
        // a failed upload aborts, so no parts are left billed in the bucket
        leavePartsOnError: false,
      });
      const out = await upload.done();
      return out.ETag;
    } catch (err) {
      throw unavailable(err, "put", key);
    }
  }

  async #streamRange(
    sha256: string,
    range: ByteRange,
    retries: number,
  ): Promise<{ stream: Readable; size: number } | null> {
    const checked = await this.#check(sha256, { trustRemembered: true });
    if (checked.verdict === "missing") return null;
    if (checked.verdict === "corrupt") throw await this.#corruptFound(sha256, "read");
    const key = this.key(sha256);
    let obj: GetObjectCommandOutput;
    try {
      obj = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#o.bucket, Key: key, Range: `bytes=${range.start}-${range.end}` }),
      );
    } catch (err) {
      if (isAbsent(err)) return null;
      throw unavailable(err, "get", key);
    }
    // replaced between the check and this read: what is served must be what was verified
    if (obj.ETag !== checked.etag) {
      (obj.Body as Readable | undefined)?.destroy();
      this.#verified.delete(sha256);
      if (retries > 0) return this.#streamRange(sha256, range, retries - 1);
      throw unavailable(new Error("the object kept changing while it was read"), "get", key);
    }
    return { stream: obj.Body as Readable, size: checked.size };
  }

  /**
   * Hashes the stored content without moving it. `trustRemembered` accepts an object verified
   * before whose ETag is unchanged (ranged reads, re-puts, presigning); the scrub and
   * corruption checks never do, as bit rot in the bucket changes no ETag.
   */
  async #check(
    sha256: string,
    opts: { trustRemembered?: boolean } = {},
  ): Promise<{ verdict: BlobVerdict; etag?: string; size: number }> {
    if (!isSha256(sha256)) return { verdict: "missing", size: 0 };
    if (opts.trustRemembered) {
      const head = await this.#head(sha256);
      if (!head) return { verdict: "missing", size: 0 };
      if (head.etag && this.#verified.get(sha256) === head.etag) return { verdict: "ok", ...head };
    }
    const obj = await this.#getObject(sha256);
    if (!obj) return { verdict: "missing", size: 0 };
    const hash = createHash("sha256");
    try {
      for await (const chunk of obj.Body as Readable) hash.update(chunk as Buffer);
    } catch (err) {
      throw unavailable(err, "get", this.key(sha256));
    }
    const size = obj.ContentLength ?? 0;
    if (hash.digest("hex") !== sha256) {
      this.#verified.delete(sha256);
      return { verdict: "corrupt", size, ...(obj.ETag ? { etag: obj.ETag } : {}) };
    }
    if (obj.ETag) this.#remember(sha256, obj.ETag);
    return { verdict: "ok", size, ...(obj.ETag ? { etag: obj.ETag } : {}) };
  }

  #remember(sha256: string, etag: string): void {
    this.#verified.delete(sha256);
    this.#verified.set(sha256, etag);
    if (this.#verified.size > VERIFIED_REMEMBERED) this.#verified.delete(this.#verified.keys().next().value!);
  }

  /**
   * Quarantines a blob a reader found corrupt. Checked again first: a put may have repaired
   * the address since the reader fetched it, and good content must never be moved aside.
   */
  async #corruptFound(sha256: string, via: CorruptionSource): Promise<KensaError> {
    if ((await this.#check(sha256)).verdict === "corrupt") await this.quarantine(sha256, via);
    return blobCorrupt(sha256, via);
  }

  /** A URL for a plain GET of a verified blob, valid `ttlSeconds`; null when absent. */
  async #presign(sha256: string, ttlSeconds: number): Promise<string | null> {
    if (!isSha256(sha256) || !this.#presigner) return null;
    const checked = await this.#check(sha256, { trustRemembered: true });
    if (checked.verdict === "missing") return null;
    if (checked.verdict === "corrupt") throw await this.#corruptFound(sha256, "read");
    const command = new GetObjectCommand({ Bucket: this.#o.bucket, Key: this.key(sha256) });
    return getSignedUrl(this.#presigner, command, { expiresIn: ttlSeconds });
  }

  async #head(sha256: string): Promise<{ size: number; etag?: string } | null> {
    const key = this.key(sha256);
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#o.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, ...(out.ETag ? { etag: out.ETag } : {}) };
    } catch (err) {
      if (isAbsent(err)) return null;
      throw unavailable(err, "head", key);
    }
  }

  async #getObject(sha256: string): Promise<GetObjectCommandOutput | null> {
    const key = this.key(sha256);
    try {
      return await this.#client.send(new GetObjectCommand({ Bucket: this.#o.bucket, Key: key }));
    } catch (err) {
      if (isAbsent(err)) return null;
      throw unavailable(err, "get", key);
    }
  }

  async #send(operation: string, key: string, command: DeleteObjectCommand): Promise<void> {
    try {
      await this.#client.send(command);
    } catch (err) {
      if (!isAbsent(err)) throw unavailable(err, operation, key);
    }
  }
}

/**
 * bytes of a streamed upload kept in memory while it is hashed; larger ones wait in a spool
 * file, so many concurrent uploads (device clips) do not each hold a part's worth of memory
 */
const SPOOL_MEMORY_BYTES = 4 * 1024 * 1024;

/** objects remembered as verified (the least recently verified is forgotten first) */
const VERIFIED_REMEMBERED = 10_000;

function hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function readBody(obj: GetObjectCommandOutput, operation: string, key: string): Promise<Uint8Array> {
  try {
    return (await obj.Body?.transformToByteArray()) ?? new Uint8Array(0);
  } catch (err) {
    throw unavailable(err, operation, key);
  }
}

/** `<bucket>/<key>` with each key segment URL-encoded, as CopyObject expects */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
