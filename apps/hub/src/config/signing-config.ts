import { type Static, Type } from "@sinclair/typebox";

/**
 * `signing`: how the hub signs bundles and trust roots (docs/bundles.md). The private key never
 * enters the database: it is a key file (PKCS#8 PEM, mode 0600, made on first start), or it
 * lives in a KMS/HSM reached through `command`.
 */
export const SigningConfigSchema = Type.Object(
  {
    /** the Ed25519 key file; `<dataDir>/signing/bundle-signing.key` when omitted (made on first start) */
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * an external signer instead of the key file: argv of a command that reads the bytes to sign
     * on stdin and prints the base64 Ed25519 signature on stdout (exit 0); needs `publicKey`
     */
    command: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** the signer command's public key: base64 of the raw 32 bytes, or an SPKI PEM */
    publicKey: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * the external signer `POST /api/v1/signing/rotate` moves to when the hub signs through a
     * command: its argv and public key (move them to `command`/`publicKey` after the rotation)
     */
    rotateTo: Type.Optional(
      Type.Object(
        {
          command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
          publicKey: Type.String({ minLength: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** ms one run of the signer command may take */
    commandTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);

export type SigningConfig = Static<typeof SigningConfigSchema>;
