import { type Static, Type } from "@sinclair/typebox";

/**
 * `secrets`: where the key that seals stored secrets (webhook signing secrets, a sealed SMTP
 * password) comes from. Env KENSA_SECRETS_KEY (the key file's content) wins over the file;
 * without either the hub generates `<dataDir>/keys/secrets.key` on its first start.
 */
export const SecretsConfigSchema = Type.Object(
  {
    /** key file (`<keyId>:<base64 key>` lines, first seals); `<dataDir>/keys/secrets.key` when omitted */
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
);

export type SecretsConfig = Static<typeof SecretsConfigSchema>;
