import { type Static, Type } from "@sinclair/typebox";
import { Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";
import { defineRoutes } from "../route.js";

/**
 * Bundle signing (docs/bundles.md). Every signature is Ed25519 over `signingInput(kind, bytes)`:
 * a domain prefix naming what is signed, then the exact bytes, so a signature over one kind of
 * statement can never pass for another.
 */
export type SignedKind = "bundle" | "root" | "downgrade" | "agent-release";

const encoder = new TextEncoder();

/** The bytes an Ed25519 signature covers: `kensa-signature/v1 <kind>\n` followed by the payload. */
export function signingInput(kind: SignedKind, payload: Uint8Array): Uint8Array {
  const prefix = encoder.encode(`kensa-signature/v1 ${kind}\n`);
  const out = new Uint8Array(prefix.byteLength + payload.byteLength);
  out.set(prefix, 0);
  out.set(payload, prefix.byteLength);
  return out;
}

/** the first 16 hex digits of the sha256 of the raw 32-byte public key */
export const SigningKeyId = Type.String({ pattern: "^[a-f0-9]{16}$" });

export const Signature = Type.Object(
  {
    keyId: SigningKeyId,
    /** base64 of the 64-byte Ed25519 signature */
    sig: Type.String({ pattern: "^[A-Za-z0-9+/]{86}==$" }),
  },
  { additionalProperties: false },
);
export type Signature = Static<typeof Signature>;

/** A statement (canonical JSON, kept as the exact string that was signed) and its signatures. */
export const SignedStatement = Type.Object(
  {
    signed: Type.String({ minLength: 2, maxLength: 65_536 }),
    signatures: Type.Array(Signature, { maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type SignedStatement = Static<typeof SignedStatement>;

export const TrustKey = Type.Object(
  {
    id: SigningKeyId,
    alg: Type.Literal("ed25519"),
    /** base64 of the raw 32-byte public key */
    publicKey: Type.String({ pattern: "^[A-Za-z0-9+/]{43}=$" }),
  },
  { additionalProperties: false },
);
export type TrustKey = Static<typeof TrustKey>;

/**
 * The keys a device trusts, TUF-root style: version n+1 counts only when `threshold` keys of
 * version n and `threshold` keys of its own list signed it. `retired` names keys taken out,
 * so a device can say "retired" rather than "unknown".
 */
export const TrustRoot = Type.Object(
  {
    type: Type.Literal("kensa.trust-root/v1"),
    version: Type.Integer({ minimum: 1 }),
    threshold: Type.Integer({ minimum: 1, maximum: 16 }),
    keys: Type.Array(TrustKey, { minItems: 1, maxItems: 16 }),
    retired: Type.Array(SigningKeyId, { maxItems: 1000 }),
    issuedAt: Ts,
  },
  { additionalProperties: false },
);
export type TrustRoot = Static<typeof TrustRoot>;

/**
 * The hub's explicit permission for one device's pipeline to install a bundle older (lower
 * `sequence`) than the one it runs. `sequence` is fresh from the hub's counter: a device takes a
 * grant only if it is newer than every grant it took before, so a captured grant cannot be replayed.
 */
export const DowngradeGrant = Type.Object(
  {
    type: Type.Literal("kensa.downgrade/v1"),
    deviceId: Type.String({ minLength: 1 }),
    pipeline: Type.String({ minLength: 1 }),
    bundleSha256: Sha256,
    bundleSequence: Type.Integer({ minimum: 0 }),
    sequence: Type.Integer({ minimum: 1 }),
    issuedAt: Ts,
  },
  { additionalProperties: false },
);
export type DowngradeGrant = Static<typeof DowngradeGrant>;

/** What is served beside a bundle: its detached signatures, and a downgrade grant for the asking device. */
export const BundleSignatures = Type.Object({
  bundleSha256: Sha256,
  /** over signingInput("bundle", the exact manifest bytes), one per key the hub trusts */
  signatures: Type.Array(Signature),
  downgrade: Type.Union([SignedStatement, Type.Null()]),
});
export type BundleSignatures = Static<typeof BundleSignatures>;

export const TrustChain = Type.Object({
  /** signed trust roots, oldest first, every version above `since` */
  roots: Type.Array(SignedStatement),
});
export type TrustChain = Static<typeof TrustChain>;

export const SigningStatus = Type.Object({
  /** the key the hub signs with now */
  activeKeyId: SigningKeyId,
  signer: Type.Union([Type.Literal("key-file"), Type.Literal("command")]),
  root: TrustRoot,
  /** the highest bundle sequence this hub has assigned */
  sequence: Type.Integer({ minimum: 0 }),
});
export type SigningStatus = Static<typeof SigningStatus>;

const TrustQuery = Type.Object({ since: Type.Integer({ minimum: 0, default: 0 }) });
const SignatureParams = Type.Object({ sha: Type.String() });
const SignatureQuery = Type.Object({ pipeline: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) });
const KeyParams = Type.Object({ keyId: Type.String() });

/** Bundle signing: the trust roots devices follow, detached bundle signatures, key rotation and retirement. */
export const signingRoutes = defineRoutes({
  trust: {
    method: "GET",
    path: "/api/v1/signing/trust",
    summary: "The signed trust roots (the keys bundles are signed with), every version above `since`",
    auth: "user-or-device",
    permission: "deployments:read",
    query: TrustQuery,
    reply: TrustChain,
  },
  bundleSignatures: {
    method: "GET",
    path: "/api/v1/bundles/:sha/signatures",
    summary: "A bundle's detached signatures, and the calling device's downgrade grant for `pipeline` if any",
    auth: "user-or-device",
    permission: "deployments:read",
    params: SignatureParams,
    query: SignatureQuery,
    reply: BundleSignatures,
    errors: ["KENSA_ERR_BUNDLE_NOT_FOUND", "KENSA_ERR_SIGNING_FAILED"],
  },
  status: {
    method: "GET",
    path: "/api/v1/signing",
    summary: "The hub's signing key, its current trust root and bundle sequence",
    permission: "deployments:read",
    reply: SigningStatus,
  },
  rotate: {
    method: "POST",
    path: "/api/v1/signing/rotate",
    summary:
      "Rotate to a new signing key (a new key file, or the `signing.rotateTo` signer), trusted through a root both keys sign",
    // who may change what every device trusts: administrators only
    permission: "users:manage",
    reply: SigningStatus,
    errors: ["KENSA_ERR_SIGNING_ROTATE_UNSUPPORTED", "KENSA_ERR_SIGNING_FAILED"],
  },
  retire: {
    method: "POST",
    path: "/api/v1/signing/keys/:keyId/retire",
    summary: "Retire a key no longer signed with: devices that follow the new root refuse what it signs",
    permission: "users:manage",
    params: KeyParams,
    reply: SigningStatus,
    errors: ["KENSA_ERR_SIGNING_KEY_NOT_FOUND", "KENSA_ERR_SIGNING_KEY_ACTIVE", "KENSA_ERR_SIGNING_FAILED"],
  },
});
