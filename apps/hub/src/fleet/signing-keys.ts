import { spawn } from "node:child_process";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { KensaError } from "@kensa/contracts";
import type { SigningConfig } from "../config/signing-config.js";

/** Something that signs with one Ed25519 key: a key file in this process, or an external command. */
export interface BundleSigner {
  readonly kind: "key-file" | "command";
  /** the first 16 hex digits of the sha256 of the raw public key */
  readonly keyId: string;
  /** base64 of the raw 32-byte public key */
  readonly publicKey: string;
  /** base64 of the 64-byte signature over `data` (already domain-prefixed) */
  sign(data: Uint8Array): Promise<string>;
  /** the key file, for a key-file signer */
  readonly file?: string;
}

export function defaultSigningKeyFile(dataDir: string): string {
  return join(dataDir, "signing", "bundle-signing.key");
}

export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash("sha256").update(rawPublicKey).digest("hex").slice(0, 16);
}

/** The raw 32 bytes of an Ed25519 public key object. */
function rawOf(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk.x !== "string") {
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", "the signing key is not an Ed25519 key");
  }
  return Buffer.from(jwk.x, "base64url");
}

/** A public key from base64 of its raw 32 bytes or an SPKI PEM. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith("-----BEGIN")) return createPublicKey(trimmed);
    const raw = Buffer.from(trimmed, "base64");
    if (raw.byteLength !== 32) throw new Error(`${raw.byteLength} bytes, not 32`);
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  } catch (err) {
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `signing public key is invalid: ${(err as Error).message}`);
  }
}

/** Whether `sig` (base64) is a valid Ed25519 signature by `publicKey` (base64 raw) over `data`. */
export function verifySignature(publicKey: string, data: Uint8Array, sig: string): boolean {
  try {
    return verify(null, data, parsePublicKey(publicKey), Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

function describe(key: KeyObject): { keyId: string; publicKey: string } {
  const raw = rawOf(key);
  return { keyId: keyIdOf(raw), publicKey: raw.toString("base64") };
}

/**
 * The key file's signer. The file must be the owner's alone (no group or other bits): a key
 * others could have read is refused with KENSA_ERR_SIGNING_KEY_INSECURE, not silently tightened,
 * because its signatures can no longer be trusted. Missing and `create`: made (0600 in 0700).
 */
export async function openKeyFileSigner(file: string, opts: { create: boolean }): Promise<BundleSigner> {
  let pem: string;
  try {
    await checkPrivate(file);
    pem = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !opts.create) throw err;
    await writeNewKeyFile(file);
    return openKeyFileSigner(file, { create: false });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      `signing key file ${file} is not a PEM private key: ${(err as Error).message}`,
    );
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      `signing key file ${file} holds a ${key.asymmetricKeyType} key, not Ed25519`,
    );
  }
  const { keyId, publicKey } = describe(createPublicKey(key));
  return {
    kind: "key-file",
    keyId,
    publicKey,
    file,
    sign: async (data) => sign(null, data, key).toString("base64"),
  };
}

async function checkPrivate(file: string): Promise<void> {
  const st = await stat(file);
  if (process.platform === "win32") return;
  const open = st.mode & 0o077;
  const owner = typeof process.getuid !== "function" || st.uid === process.getuid();
  if (open !== 0 || !owner) {
    throw new KensaError(
      "KENSA_ERR_SIGNING_KEY_INSECURE",
      `signing key file ${file} has mode 0${(st.mode & 0o777).toString(8)}${owner ? "" : " and another owner"}: it must be 0600 and the hub's own`,
      { file, mode: st.mode & 0o777 },
    );
  }
}

/** Writes a new Ed25519 key (PKCS#8 PEM) to `file`, created exclusively with mode 0600. */
export async function writeNewKeyFile(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const fh = await open(file, "wx", 0o600);
  try {
    await fh.writeFile(pem);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * An external signer (KMS, HSM): `argv` gets the bytes to sign on stdin and prints the base64
 * signature on stdout. Every signature is checked against the configured public key, so a
 * misconfigured or failing signer stops a deployment (KENSA_ERR_SIGNING_FAILED) rather than
 * shipping bundles no device accepts.
 */
export function commandSigner(argv: readonly string[], publicKeyText: string, timeoutMs: number): BundleSigner {
  const { keyId, publicKey } = describe(parsePublicKey(publicKeyText));
  const [cmd, ...args] = argv;
  if (!cmd) throw new KensaError("KENSA_ERR_CONFIG_INVALID", "signing.command is empty");
  return {
    kind: "command",
    keyId,
    publicKey,
    sign: async (data) => {
      const out = await runSigner(cmd, args, data, timeoutMs);
      const sig = out.trim();
      if (!/^[A-Za-z0-9+/]{86}==$/.test(sig) || !verifySignature(publicKey, data, sig)) {
        throw new KensaError(
          "KENSA_ERR_SIGNING_FAILED",
          `signer command ${cmd} printed no valid signature for key ${keyId} (${sig.length} characters)`,
        );
      }
      return sig;
    },
  };
}

function runSigner(cmd: string, args: string[], data: Uint8Array, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.stdin.on("error", () => undefined);
    child.on("error", (e) => reject(new KensaError("KENSA_ERR_SIGNING_FAILED", `signer command ${cmd}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
      const why = signal
        ? `was killed (${signal}${signal === "SIGKILL" ? `, over ${timeoutMs} ms` : ""})`
        : `exited ${code}`;
      const stderr = Buffer.concat(err).toString("utf8").trim().slice(0, 500);
      reject(new KensaError("KENSA_ERR_SIGNING_FAILED", `signer command ${cmd} ${why}${stderr ? `: ${stderr}` : ""}`));
    });
    child.stdin.end(Buffer.from(data));
  });
}

/** The configured signer: the command when `signing.command` is set, else the key file (made when missing). */
export async function openSigner(config: SigningConfig, dataDir: string): Promise<BundleSigner> {
  if (config.command) {
    if (!config.publicKey)
      throw new KensaError("KENSA_ERR_CONFIG_INVALID", "signing.publicKey is required with signing.command");
    return commandSigner(config.command, config.publicKey, config.commandTimeoutMs);
  }
  return openKeyFileSigner(config.keyFile ?? defaultSigningKeyFile(dataDir), { create: true });
}
