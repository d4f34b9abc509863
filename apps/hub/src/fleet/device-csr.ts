import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { KensaError } from "@kensa/contracts";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** What a verified CSR gives the CA: the device's public key and the CN it asked for (null: none). */
export interface CheckedCsr {
  publicKey: CryptoKey;
  commonName: string | null;
}

/**
 * Reads a PEM PKCS#10 request and verifies its signature (the requester holds the private key).
 * EC P-256/P-384 and RSA (2048 bits or more) keys. Throws KENSA_ERR_CSR_INVALID.
 */
export async function checkCsr(pem: string): Promise<CheckedCsr> {
  const invalid = (reason: string) =>
    new KensaError("KENSA_ERR_CSR_INVALID", `certificate signing request: ${reason}`, { reason });
  if (!/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem)) throw invalid("not a PEM CERTIFICATE REQUEST");
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw invalid(`not PKCS#10: ${(err as Error).message}`);
  }
  const alg = csr.publicKey.algorithm as Algorithm & { namedCurve?: string; modulusLength?: number };
  let importAlg: Algorithm & { namedCurve?: string; hash?: string };
  if (alg.name === "ECDSA" && (alg.namedCurve === "P-256" || alg.namedCurve === "P-384")) {
    importAlg = { name: "ECDSA", namedCurve: alg.namedCurve };
  } else if (alg.name === "RSASSA-PKCS1-v1_5" || alg.name === "RSA-PSS") {
    importAlg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else {
    throw invalid(`unsupported key ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ""}; use EC P-256 or RSA`);
  }
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (err) {
    throw invalid(`signature cannot be checked: ${(err as Error).message}`);
  }
  if (!ok) throw invalid("its signature does not verify");
  const publicKey = await csr.publicKey.export(importAlg, ["verify"]);
  if (importAlg.name !== "ECDSA") {
    const bits = (publicKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
    if (bits < 2048) throw invalid(`an RSA key of ${bits} bits; use 2048 or more`);
  }
  const cns = csr.subjectName.getField("CN");
  if (cns.length > 1) throw invalid("more than one subject CN");
  return { publicKey, commonName: cns[0] ?? null };
}

/**
 * A new ECDSA P-256 key and a CSR for `deviceId` signed with it (subject CN = the id), both PEM:
 * the key stays where this runs, the CSR goes to the hub.
 */
export async function createDeviceCsr(deviceId: string): Promise<{ csr: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${deviceId}`,
    keys,
    signingAlgorithm: EC_ALG,
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { csr: csr.toString("pem"), key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") };
}
