import { createPublicKey, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  compile,
  KensaError,
  type Signature,
  type SignedKind,
  type SignedStatement,
  signingInput,
  type TrustKey,
  TrustRoot,
} from "@kensa/contracts";
import { writeFileAtomic } from "../storage/fs-atomic.js";

const checkRoot = compile(TrustRoot);

/** Whether `sig` (base64) is `key`'s Ed25519 signature over signingInput(kind, payload). */
export function signatureValid(key: TrustKey, kind: SignedKind, payload: Uint8Array, sig: string): boolean {
  try {
    const publicKey = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(key.publicKey, "base64").toString("base64url") },
      format: "jwk",
    });
    return verify(null, signingInput(kind, payload), publicKey, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

/** Distinct keys of `keys` whose signature over the payload verifies. */
export function validSigners(keys: readonly TrustKey[], kind: SignedKind, payload: Uint8Array, sigs: Signature[]) {
  const valid = new Set<string>();
  for (const s of sigs) {
    const key = keys.find((k) => k.id === s.keyId);
    if (key && signatureValid(key, kind, payload, s.sig)) valid.add(key.id);
  }
  return valid;
}

function invalid(message: string): KensaError {
  return new KensaError("KENSA_ERR_TRUST_STATEMENT_INVALID", message);
}

/** Parses a signed trust root; throws KENSA_ERR_TRUST_STATEMENT_INVALID. */
export function parseRoot(statement: SignedStatement): TrustRoot {
  let value: unknown;
  try {
    value = JSON.parse(statement.signed);
  } catch {
    throw invalid("trust root is not JSON");
  }
  if (!checkRoot.check(value)) {
    const list = checkRoot
      .issues(value)
      .map((i) => `${i.path}: ${i.message}`)
      .join("; ");
    throw invalid(`trust root is invalid: ${list}`);
  }
  if (value.threshold > value.keys.length)
    throw invalid(`trust root ${value.version} needs more signatures than it has keys`);
  return value;
}

/** `statement` carries `root.threshold` valid signatures by keys of `root` (over its exact bytes). */
function signedBy(root: TrustRoot, statement: SignedStatement): boolean {
  const valid = validSigners(root.keys, "root", Buffer.from(statement.signed, "utf8"), statement.signatures);
  return valid.size >= root.threshold;
}

interface Current {
  statement: SignedStatement;
  root: TrustRoot;
}

/**
 * The keys this device trusts, on disk (`trust.json`: the latest signed root it accepted).
 * The first root is pinned (provisioned, from enrollment, or fetched once from the hub over the
 * device-authenticated channel); every later one must be version n+1, signed by the threshold
 * of version n's keys and by the threshold of its own (TUF's root rotation), so neither a
 * replayed older root nor one signed by unknown keys is ever taken.
 */
export class TrustStore {
  readonly #file: string;
  #current: Current | null = null;

  private constructor(file: string) {
    this.#file = file;
  }

  /** Reads the store; a file that does not verify is KENSA_ERR_TRUST_STATEMENT_INVALID (never silently dropped). */
  static async open(file: string): Promise<TrustStore> {
    const store = new TrustStore(file);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return store;
      throw err;
    }
    let statement: SignedStatement;
    try {
      statement = JSON.parse(text) as SignedStatement;
    } catch {
      throw invalid(`${file} is not JSON`);
    }
    if (typeof statement?.signed !== "string" || !Array.isArray(statement.signatures)) {
      throw invalid(`${file} holds no signed trust root`);
    }
    const root = parseRoot(statement);
    if (!signedBy(root, statement)) throw invalid(`${file}: trust root ${root.version} is not signed by its own keys`);
    store.#current = { statement, root };
    return store;
  }

  get root(): TrustRoot | null {
    return this.#current?.root ?? null;
  }

  /** A key's standing in the current root. */
  keyState(keyId: string): "active" | "retired" | "unknown" {
    const root = this.root;
    if (root?.keys.some((k) => k.id === keyId)) return "active";
    return root?.retired.includes(keyId) ? "retired" : "unknown";
  }

  /** Takes the first root (self-signed to its threshold); a store that has one keeps it. */
  async pin(statement: SignedStatement): Promise<TrustRoot> {
    if (this.#current) return this.#current.root;
    const root = parseRoot(statement);
    if (!signedBy(root, statement)) throw invalid(`trust root ${root.version} is not signed by its own keys`);
    await this.#save({ statement, root });
    return root;
  }

  /**
   * Walks newer roots in order: versions at or below the current one are ignored (a replay),
   * a gap or a root not signed by both the current and its own keys stops the walk with
   * KENSA_ERR_TRUST_STATEMENT_INVALID after keeping those that verified. Returns how many it took.
   */
  async advance(statements: readonly SignedStatement[]): Promise<number> {
    let current = this.#current;
    if (!current) throw invalid("no trust root to rotate from");
    let taken = 0;
    let failure: KensaError | undefined;
    for (const statement of statements) {
      let next: TrustRoot;
      try {
        next = parseRoot(statement);
      } catch (err) {
        failure = err as KensaError;
        break;
      }
      if (next.version <= current.root.version) continue;
      if (next.version !== current.root.version + 1) {
        failure = invalid(`trust root ${next.version} does not follow version ${current.root.version}`);
        break;
      }
      if (!signedBy(current.root, statement) || !signedBy(next, statement)) {
        failure = invalid(
          `trust root ${next.version} is not signed by the keys of version ${current.root.version} and its own`,
        );
        break;
      }
      current = { statement, root: next };
      taken++;
    }
    if (taken > 0) await this.#save(current);
    if (failure) throw failure;
    return taken;
  }

  async #save(current: Current): Promise<void> {
    await writeFileAtomic(this.#file, `${JSON.stringify(current.statement)}\n`);
    this.#current = current;
  }
}
