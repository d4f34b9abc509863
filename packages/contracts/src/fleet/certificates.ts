import { type Static, Type } from "@sinclair/typebox";
import { Timestamp as Ts } from "../common.js";

// ---- device client certificates (mutual TLS on the embedded broker) -----------------------

/**
 * How a device's client certificate is made: from a PEM certificate signing request whose key
 * stays on the device (`csr`), or from a key pair the hub makes and returns once
 * (`generateKey: true`). Exactly one of the two.
 */
export const IssueDeviceCertificate = Type.Object(
  {
    csr: Type.Optional(
      Type.String({
        maxLength: 16_384,
        description:
          "PKCS#10 request in PEM; its subject CN, when present, must be the device id (the certificate's CN is always the device id)",
      }),
    ),
    generateKey: Type.Optional(
      Type.Boolean({ description: "the hub makes an ECDSA P-256 key pair and returns its private key once" }),
    ),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 825 })),
  },
  { additionalProperties: false },
);
export type IssueDeviceCertificate = Static<typeof IssueDeviceCertificate>;

/** A certificate the hub issued to a device, as recorded (no key, no PEM). */
export const DeviceCertificate = Type.Object({
  /** lower-case hex without leading zeros */
  serial: Type.String(),
  deviceId: Type.String(),
  issuedAt: Ts,
  notAfter: Ts,
  /** when it was revoked (alone, or with its device or a rotation of its secret); null while valid */
  revokedAt: Type.Union([Ts, Type.Null()]),
});
export type DeviceCertificate = Static<typeof DeviceCertificate>;

/** An issued certificate: its record, the PEM chain to present, the CA to trust, and a key the hub made. */
export const IssuedDeviceCertificate = Type.Object({
  certificate: DeviceCertificate,
  /** the device's certificate followed by the intermediates up to the device CA (PEM) */
  chain: Type.String(),
  /** the device CA's certificate (PEM) */
  ca: Type.String(),
  /** the private key (PKCS#8 PEM), only with `generateKey`; shown once, never stored */
  key: Type.Optional(Type.String()),
});
export type IssuedDeviceCertificate = Static<typeof IssuedDeviceCertificate>;

export const DeviceCertificateParams = Type.Object({
  id: Type.String(),
  serial: Type.String({ pattern: "^[0-9A-Fa-f:]{1,64}$" }),
});
