import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { KensaError } from "@kensa/contracts";
import type { ClientTls, ServerTls } from "../config/tls-config.js";

/** The PEM bytes a client trusts (`ca`) and shows (`cert`, `key`). */
export interface ClientTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** The PEM bytes of a server's files, checked to belong together. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/**
 * Reads and checks a server's certificate files: each is readable and PEM, the key is the
 * certificate's, and the certificate has not expired. Throws KENSA_ERR_TLS_FILES naming the
 * config key and file, so a typo stops the hub before it listens.
 */
export async function readServerTls(
  files: ServerTls,
  at: string,
  opts: { withCa?: boolean } = {},
): Promise<TlsMaterial> {
  const cert = await readPem(files.cert, `${at}/cert`);
  const key = await readPem(files.key, `${at}/key`);
  const ca = opts.withCa && files.ca ? await readPem(files.ca, `${at}/ca`) : undefined;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw tlsError(`${at}/cert`, files.cert, `not a PEM certificate (${(err as Error).message})`);
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      throw tlsError(`${at}/key`, files.key, `is not the private key of ${files.cert}`);
    }
  } catch (err) {
    if (err instanceof KensaError) throw err;
    throw tlsError(`${at}/key`, files.key, `not a PEM private key (${(err as Error).message})`);
  }
  if (Date.parse(leaf.validTo) < Date.now()) {
    throw tlsError(`${at}/cert`, files.cert, `expired on ${leaf.validTo}`);
  }
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (err) {
    throw tlsError(at, files.cert, (err as Error).message);
  }
  return { cert, key, ...(ca ? { ca } : {}) };
}

/** The client side's files (any may be omitted); throws KENSA_ERR_TLS_FILES naming the key. */
export async function readClientTls(files: ClientTls, at: string): Promise<ClientTlsMaterial> {
  if (!!files.cert !== !!files.key) {
    throw tlsError(`${at}/${files.cert ? "key" : "cert"}`, files.cert ?? files.key ?? "", "cert and key go together");
  }
  return {
    ...(files.ca ? { ca: await readPem(files.ca, `${at}/ca`) } : {}),
    ...(files.cert ? { cert: await readPem(files.cert, `${at}/cert`) } : {}),
    ...(files.key ? { key: await readPem(files.key, `${at}/key`) } : {}),
  };
}

async function readPem(file: string, at: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw tlsError(at, file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!bytes.includes("-----BEGIN ")) throw tlsError(at, file, "is not PEM (no -----BEGIN line)");
  return bytes;
}

function tlsError(at: string, file: string, problem: string): KensaError {
  return new KensaError("KENSA_ERR_TLS_FILES", `${at}: ${file} ${problem}`, { path: at, file });
}

/** Which of the hub's listeners accept connections from other machines without TLS. */
export function plainListenersOffLoopback(listeners: Array<{ name: string; host: string; tls: boolean }>): string[] {
  return listeners.filter((l) => !l.tls && !isLoopback(l.host)).map((l) => `${l.name} on ${l.host}`);
}

/** true for addresses only this machine can reach */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}
