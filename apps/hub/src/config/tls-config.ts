import { type Static, Type } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

/** A server's certificate files (PEM), as the hub config names them for HTTPS and MQTT over TLS. */
export const ServerTlsSchema = Type.Object(
  {
    /** PEM file: the server certificate first, then the intermediates of its chain */
    cert: Type.String({ minLength: 1 }),
    /** PEM file: the certificate's private key (keep it 0600) */
    key: Type.String({ minLength: 1 }),
    /** PEM file of the CAs client certificates must chain to; only read where client certificates are asked for */
    ca: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);
export type ServerTls = Static<typeof ServerTlsSchema>;

/** What the hub's own MQTT client trusts and shows when it connects to an external broker over TLS. */
export const ClientTlsSchema = Type.Object(
  {
    /** PEM file of the CAs the broker's certificate must chain to; the system's roots when omitted */
    ca: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM file: a client certificate (with `key`) for brokers that ask for one */
    cert: Type.Optional(Type.String({ minLength: 1 })),
    key: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);
export type ClientTls = Static<typeof ClientTlsSchema>;

/** `mqtt.embedded.tls`: the embedded broker's listener speaks MQTT over TLS only. */
export const EmbeddedBrokerTlsSchema = Type.Object(
  {
    /** PEM file: the broker's certificate, then its chain's intermediates */
    cert: Type.String({ minLength: 1 }),
    /** PEM file: its private key (keep it 0600) */
    key: Type.String({ minLength: 1 }),
    /**
     * PEM file of further CAs whose client certificates are accepted (a site CA), besides the
     * hub's own device CA; only used when `clientCertificates` is not "off"
     */
    ca: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * devices authenticating by certificate (CN = device id) instead of a secret: "off";
     * "optional" (either, per device); "required" (devices must present one; secrets are refused)
     */
    clientCertificates: Type.Union([Type.Literal("off"), Type.Literal("optional"), Type.Literal("required")], {
      default: "off",
    }),
    /** the device CA (PEM cert and key); generated into `<dataDir>/device-ca/` when omitted */
    deviceCa: Type.Optional(
      Type.Object({ cert: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, strict),
    ),
  },
  strict,
);
export type EmbeddedBrokerTls = Static<typeof EmbeddedBrokerTlsSchema>;

export type ClientCertificateMode = EmbeddedBrokerTls["clientCertificates"];
