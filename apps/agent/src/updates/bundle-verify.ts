import { BundleManifest, compile, KensaError, sha256Hex } from "@kensa/contracts";

const checkManifest = compile(BundleManifest);

/** What the bytes must hash to: the bundle id, and the model hash when the sender named one. */
export interface ExpectedHashes {
  sha256: string;
  modelSha256?: string;
}

/** Checks the manifest bytes against the bundle sha and parses them (KENSA_ERR_BUNDLE_HASH_MISMATCH, KENSA_ERR_BUNDLE_LOAD_FAILED). */
export function verifyManifest(expected: ExpectedHashes, manifestBytes: Uint8Array): BundleManifest {
  const got = sha256Hex(manifestBytes);
  if (got !== expected.sha256) {
    throw new KensaError(
      "KENSA_ERR_BUNDLE_HASH_MISMATCH",
      `bundle manifest sha256 is ${got}, expected ${expected.sha256}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(manifestBytes).toString("utf8"));
  } catch (err) {
    throw new KensaError("KENSA_ERR_BUNDLE_LOAD_FAILED", `bundle manifest is not JSON: ${(err as Error).message}`);
  }
  if (!checkManifest.check(value)) {
    const list = checkManifest
      .issues(value)
      .map((i) => `${i.path}: ${i.message}`)
      .join("; ");
    throw new KensaError("KENSA_ERR_BUNDLE_LOAD_FAILED", `bundle manifest is invalid: ${list}`);
  }
  return value;
}

/** The model's sha256 (`got`) must be what the manifest and the sender both say (KENSA_ERR_BUNDLE_HASH_MISMATCH). */
export function verifyModel(expected: ExpectedHashes, manifest: BundleManifest, got: string): void {
  if (expected.modelSha256 !== undefined && expected.modelSha256 !== manifest.model.sha256) {
    throw new KensaError(
      "KENSA_ERR_BUNDLE_HASH_MISMATCH",
      `desired model sha256 ${expected.modelSha256} differs from the manifest's ${manifest.model.sha256}`,
    );
  }
  if (got !== manifest.model.sha256) {
    throw new KensaError("KENSA_ERR_BUNDLE_HASH_MISMATCH", `model sha256 is ${got}, expected ${manifest.model.sha256}`);
  }
}
