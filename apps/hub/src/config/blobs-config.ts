import { type Issue, KensaError } from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

/** `blobs.s3`: an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2); docs/storage.md */
export const S3BlobsConfigSchema = Type.Object(
  {
    /** the service URL; AWS's regional endpoint when omitted */
    endpoint: Type.Optional(Type.String({ pattern: "^https?://" })),
    /** "auto" for R2; MinIO and Ceph accept any, commonly "us-east-1" */
    region: Type.String({ minLength: 1, default: "us-east-1" }),
    bucket: Type.String({ pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$" }),
    /** prepended to every key, e.g. "site-a/" (several hubs in one bucket) */
    prefix: Type.String({ pattern: "^([A-Za-z0-9._-]+/)*$", default: "" }),
    /** `<endpoint>/<bucket>/<key>` (MinIO, Ceph without wildcard DNS) instead of `<bucket>.<host>/<key>` */
    forcePathStyle: Type.Boolean({ default: false }),
    /** else env KENSA_S3_ACCESS_KEY_ID, else the SDK's default chain (AWS_* env, profile, instance role) */
    accessKeyId: Type.Optional(Type.String({ minLength: 1 })),
    /** a sealed `kensa:enc:v1:…` value (or plaintext, warned about); else `secretAccessKeyFile`, else env KENSA_S3_SECRET_ACCESS_KEY */
    secretAccessKey: Type.Optional(Type.String({ minLength: 1 })),
    /** file holding the secret access key (mode 0600) */
    secretAccessKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** "sha256": uploads carry x-amz-checksum-sha256 for the server to check; "none" for servers that refuse it */
    checksum: Type.Union([Type.Literal("sha256"), Type.Literal("none")], { default: "sha256" }),
    /** bytes; content up to this goes up in one PUT, larger in parts of this size (S3 needs ≥ 5 MiB) */
    partSizeBytes: Type.Integer({ minimum: 5 * 1024 * 1024, maximum: 5 * 1024 ** 3, default: 16 * 1024 * 1024 }),
    /** parts of one multipart upload sent at once */
    partConcurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
    /** tries of one request, the first included */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
    /** ms to connect, and ms a request may go without data */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
    /** PEM file of the CA that signed a self-hosted endpoint's certificate */
    caFile: Type.Optional(Type.String({ minLength: 1 })),
    /** where uploads larger than one part wait, hashed, before they go up; `<dataDir>/tmp/s3` when omitted */
    spoolDir: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * devices download bundles and models straight from the bucket: the hub answers 302 to a
     * presigned GET valid `ttlSeconds`, signed for `endpoint` when devices reach storage at
     * another address than the hub does
     */
    presign: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        ttlSeconds: Type.Integer({ minimum: 1, maximum: 604_800, default: 300 }),
        endpoint: Type.Optional(Type.String({ pattern: "^https?://" })),
      },
      { ...strict, default: {} },
    ),
  },
  strict,
);

/** `blobs`: where the hub keeps content (frames, clips, datasets, models, bundles). */
export const BlobsConfigSchema = Type.Object(
  {
    /** "fs": `<dataDir>/blobs`; "s3": the bucket `s3` names */
    kind: Type.Union([Type.Literal("fs"), Type.Literal("s3")], { default: "fs" }),
    /** the blobs folder of kind "fs"; `<dataDir>/blobs` when omitted */
    dir: Type.Optional(Type.String({ minLength: 1 })),
    s3: Type.Optional(S3BlobsConfigSchema),
  },
  { ...strict, default: {} },
);

export type BlobsConfig = Static<typeof BlobsConfigSchema>;
export type S3BlobsConfig = Static<typeof S3BlobsConfigSchema>;

/** `kind: "s3"` needs its `s3` section (a union would only say "Expected union value"). */
export function checkBlobsConfig(blobs: BlobsConfig, at = "/blobs"): void {
  const issues: Issue[] = [];
  if (blobs.kind === "s3" && !blobs.s3) issues.push({ path: `${at}/s3`, message: 'required when kind is "s3"' });
  if (blobs.s3?.secretAccessKey && blobs.s3.secretAccessKeyFile) {
    issues.push({
      path: `${at}/s3/secretAccessKeyFile`,
      message: "give secretAccessKey or secretAccessKeyFile, not both",
    });
  }
  if (!issues.length) return;
  const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  throw new KensaError("KENSA_ERR_CONFIG_INVALID", `hub config is invalid: ${list}`, { issues });
}
