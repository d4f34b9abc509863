import { type Static, Type } from "@sinclair/typebox";

/**
 * `sms`: how this hub talks to SMS gateways. The gateways themselves (URL, adapter, sender,
 * credentials) are part of each project's notification routing, sealed in the database like
 * webhook secrets; retries follow `notifications.attempts` and `notifications.backoffMs`.
 */
export const SmsConfigSchema = Type.Object(
  {
    /** ms a gateway may take to answer before the attempt counts as failed (and is retried) */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
    /** code points per message; longer texts are cut (never the incident link). 160 fits one GSM-7 SMS */
    maxChars: Type.Integer({ minimum: 40, maximum: 1600, default: 160 }),
  },
  { additionalProperties: false, default: {} },
);

export type SmsConfig = Static<typeof SmsConfigSchema>;
