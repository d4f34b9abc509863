import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, PEM. */
export interface TestKeyPair {
  cert: string;
  key: string;
}

export interface TestCertificateAuthority {
  /** the CA's certificate, PEM */
  cert: string;
  /** the CA's private key, PEM (for tests that hand it to the hub as its device CA) */
  key: string;
  /** a server certificate for `hosts` (DNS names and IP addresses as SANs); 127.0.0.1 and localhost by default */
  server(hosts?: string[], opts?: { days?: number }): Promise<TestKeyPair>;
  /** a client certificate with subject CN `commonName` */
  client(commonName: string): Promise<TestKeyPair>;
  /** writes `<name>.crt` and `<name>.key` (0600) into `dir`; returns their paths */
  write(dir: string, name: string, pair: TestKeyPair): Promise<{ cert: string; key: string }>;
}

/**
 * A throwaway CA for tests (ECDSA P-256): servers and clients get real certificates chaining to
 * it, so TLS is verified the way a site CA's would be.
 */
export async function testCertificateAuthority(name = "Kensa Test CA"): Promise<TestCertificateAuthority> {
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 30 * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pem = async (key: CryptoKey) =>
    x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");

  const issue = async (subject: string, extensions: x509.Extension[], days: number): Promise<TestKeyPair> => {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: ca.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + days * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
        ...extensions,
      ],
    });
    return { cert: cert.toString("pem"), key: await pem(keys.privateKey) };
  };

  return {
    cert: ca.toString("pem"),
    key: await pem(caKeys.privateKey),
    server: (hosts = ["127.0.0.1", "localhost"], opts = {}) =>
      issue(
        `CN=${hosts[0] ?? "localhost"}`,
        [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(
            hosts.map((h) => ({ type: /^[\d.]+$|:/.test(h) ? ("ip" as const) : ("dns" as const), value: h })),
          ),
        ],
        opts.days ?? 30,
      ),
    client: (commonName) =>
      issue(
        `CN=${commonName}`,
        [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ],
        30,
      ),
    write: async (dir, name, pair) => {
      const paths = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
      await writeFile(paths.cert, pair.cert);
      await writeFile(paths.key, pair.key, { mode: 0o600 });
      return paths;
    },
  };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString("hex");
}
