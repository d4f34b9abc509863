import { KensaError, type NotificationRouting } from "@kensa/contracts";
import { isSealed, type SecretBox } from "../secrets/secret-box.js";
import { openSmsAuth, sealSmsAuth } from "./sms-secrets.js";

/** The purpose webhook signing secrets are sealed for (bound into each envelope). */
export const WEBHOOK_SECRET_PURPOSE = "webhook-secret";

/** The routing as stored: every webhook secret and the SMS gateway's secret sealed (plaintext kept only without a box). */
export function sealRouting(routing: NotificationRouting, box: SecretBox | null): NotificationRouting {
  if (!box) return routing;
  return sealSmsAuth(
    {
      ...routing,
      webhooks: routing.webhooks.map((w) => ({
        ...w,
        secret: isSealed(w.secret) ? w.secret : box.seal(w.secret, WEBHOOK_SECRET_PURPOSE),
      })),
    },
    box,
  );
}

/** The routing as the hub uses it: every webhook secret in plaintext, for signing deliveries. */
export function openRouting(stored: NotificationRouting, box: SecretBox | null): NotificationRouting {
  const routing = openSmsAuth(stored, box);
  if (!routing.webhooks.some((w) => isSealed(w.secret))) return routing;
  if (!box) {
    throw new KensaError("KENSA_ERR_SECRETS_KEY_MISSING", "a webhook secret is sealed and no secrets key was given");
  }
  return {
    ...routing,
    webhooks: routing.webhooks.map((w) => ({ ...w, secret: box.reveal(w.secret, WEBHOOK_SECRET_PURPOSE) })),
  };
}
