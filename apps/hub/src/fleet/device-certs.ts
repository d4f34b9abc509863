import { join } from "node:path";
import "reflect-metadata";
import { createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { KensaError } from "@kensa/contracts";
import * as x509 from "@peculiar/x509";
import type { HubConfig } from "../config.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** Where the device CA's certificate and private key live (PEM). */
export interface DeviceCaFiles {
  cert: string;
  key: string;
}

/** A device's client certificate, its private key and the CA that signed it (all PEM). */
export interface IssuedCertificate {
  deviceId: string;
  cert: string;
  key: string;
  ca: string;
  serial: string;
  notAfter: string;
}

/**
 * The hub as the CA of its devices' client certificates (mutual TLS on the embedded broker):
 * subject CN = the device id. The CA's key stays in a 0600 file; the broker trusts the CA's
 * certificate and takes a certificate only while its serial is recorded for the device it
 * names and not revoked (device-certificate-service.ts).
 */
export class DeviceCertificateAuthority {
  readonly certPem: string;
  #cert: x509.X509Certificate;
  #key: CryptoKey;
  #alg: Algorithm & { hash?: string };

  private constructor(cert: x509.X509Certificate, key: CryptoKey, alg: Algorithm & { hash?: string }) {
    this.#cert = cert;
    this.#key = key;
    this.#alg = alg;
    this.certPem = cert.toString("pem");
  }

  /**
   * Opens the CA at `files`; with `create`, a CA that does not exist yet is made there first
   * (ECDSA P-256, 10 years; key 0600 in a 0700 directory). Throws KENSA_ERR_TLS_FILES.
   */
  static async open(
    files: DeviceCaFiles,
    opts: { create?: boolean; name?: string } = {},
  ): Promise<DeviceCertificateAuthority> {
    let certPem: string;
    let keyPem: string;
    try {
      [certPem, keyPem] = await Promise.all([readFile(files.cert, "utf8"), readFile(files.key, "utf8")]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !opts.create) {
        throw new KensaError(
          "KENSA_ERR_TLS_FILES",
          `device CA: cannot read ${files.cert} and ${files.key}: ${(err as Error).message}`,
          {
            file: files.cert,
          },
        );
      }
      return DeviceCertificateAuthority.#create(files, opts.name ?? "Kensa device CA");
    }
    try {
      const cert = new x509.X509Certificate(certPem);
      const { key, alg } = await importSigningKey(keyPem);
      return new DeviceCertificateAuthority(cert, key, alg);
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_TLS_FILES",
        `device CA: ${files.cert} / ${files.key}: ${(err as Error).message}`,
        {
          file: files.cert,
        },
      );
    }
  }

  static async #create(files: DeviceCaFiles, name: string): Promise<DeviceCertificateAuthority> {
    const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${name}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3650 * DAY_MS),
      keys,
      signingAlgorithm: EC_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    await mkdir(dirname(files.key), { recursive: true, mode: 0o700 });
    await writeAtomically(files.key, x509.PemConverter.encode(pkcs8, "PRIVATE KEY"), 0o600);
    await writeAtomically(files.cert, cert.toString("pem"), 0o644);
    return new DeviceCertificateAuthority(cert, keys.privateKey, EC_ALG);
  }

  /** Issues a client certificate for `deviceId` (a new key pair each time), valid for `days`. */
  async issue(deviceId: string, days = 825): Promise<IssuedCertificate> {
    const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const signed = await this.sign(deviceId, keys.publicKey, days);
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    return { deviceId, ...signed, key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"), ca: this.certPem };
  }

  /**
   * Signs a client certificate for `deviceId` over a public key whose private half the caller
   * keeps (a device's CSR): subject CN = the device id, clientAuth only, valid for `days` but
   * never beyond the CA itself.
   */
  async sign(
    deviceId: string,
    publicKey: CryptoKey,
    days = 825,
  ): Promise<{ cert: string; serial: string; notAfter: string }> {
    const now = Date.now();
    const notAfter = new Date(Math.min(now + days * DAY_MS, this.#cert.notAfter.getTime()));
    const serialNumber = serial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=${deviceId}`,
      issuer: this.#cert.subject,
      notBefore: new Date(now - 60_000),
      notAfter,
      publicKey,
      signingKey: this.#key,
      signingAlgorithm: this.#alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: `urn:kensa:device:${deviceId}` }]),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert),
      ],
    });
    return { cert: cert.toString("pem"), serial: normalizeSerial(serialNumber), notAfter: cert.notAfter.toISOString() };
  }

  /** The device CA's certificate when another CA signed it (an intermediate), for the chain devices present. */
  get intermediatePem(): string | null {
    return this.#cert.subject === this.#cert.issuer ? null : this.certPem;
  }
}

/** A serial number as the hub records and compares it: lower-case hex, no separators or leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex
    .toLowerCase()
    .replaceAll(":", "")
    .replace(/^0+(?=.)/, "");
}

/** Writes a device's certificate files into `dir`: device.crt, device.key (0600), ca.crt. */
export async function writeIssuedCertificate(dir: string, issued: IssuedCertificate): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = { cert: `${dir}/device.crt`, key: `${dir}/device.key`, ca: `${dir}/ca.crt` };
  await writeAtomically(paths.key, issued.key, 0o600);
  await writeAtomically(paths.cert, issued.cert, 0o644);
  await writeAtomically(paths.ca, issued.ca, 0o644);
  return paths;
}

async function importSigningKey(pem: string): Promise<{ key: CryptoKey; alg: Algorithm & { hash?: string } }> {
  const node = createPrivateKey(pem);
  const der = node.export({ type: "pkcs8", format: "der" });
  if (node.asymmetricKeyType === "ec") {
    const curve = node.asymmetricKeyDetails?.namedCurve;
    const namedCurve = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" }[curve ?? ""];
    if (!namedCurve) throw new Error(`unsupported EC curve ${curve}`);
    const hash = namedCurve === "P-256" ? "SHA-256" : "SHA-384";
    const key = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve }, false, ["sign"]);
    return { key, alg: { name: "ECDSA", hash } };
  }
  if (node.asymmetricKeyType === "rsa") {
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: await webcrypto.subtle.importKey("pkcs8", der, alg, false, ["sign"]), alg };
  }
  throw new Error(`unsupported key type ${node.asymmetricKeyType}; use an EC (P-256) or RSA key`);
}

/** A positive 128-bit serial number in hex, its first byte 0x40–0x7f (no leading zero to strip). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x3f) | 0x40;
  return b.toString("hex");
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** The device CA's files: `mqtt.embedded.tls.deviceCa`, else `<dataDir>/device-ca/`. */
export function deviceCaFiles(config: Pick<HubConfig, "dataDir" | "mqtt">): { cert: string; key: string } {
  const dir = join(config.dataDir, "device-ca");
  return config.mqtt.embedded.tls?.deviceCa ?? { cert: join(dir, "ca.pem"), key: join(dir, "ca-key.pem") };
}
